"""Detect alone on an already-synced scale workspace: every due list, in-process, least of N.

The scale case (`python -m bench.run --only scale`) syncs 100,000 contacts and 1,000,000
conversations first, which takes minutes; this keeps one synced workspace in a folder and
measures only detect on it, each run in a fresh process (its own peak RSS):

    python -m bench.detect_only .bench/detect-ws            # syncs once if the folder is new
    python -m bench.detect_only .bench/detect-ws --repeat 5 --list monthly
    python -m bench.detect_only .bench/detect-ws --code /work/main   # main's detect, same data

Every due list is what `follow-up` and `digest` wait for: thank-yous and intros (with the
cap's count), the going-cold list, and the month's updates (the month's first run, nothing
recorded).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bench import scale
from bench.measure import last_json, run

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-11-25"


def env(code: Path = ROOT) -> dict[str, str]:
    """Today fixed, and the code to measure first on the path (another checkout's, for a
    baseline on the same workspace: main's detect ignores the derived tables)."""
    paths = (str(code), os.environ.get("PYTHONPATH"))
    return {
        **os.environ,
        "BREADCRUMBS_TODAY": TODAY,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
    }


def synced(folder: Path, contacts: int, conversations: int) -> Path:
    """The folder's workspace, synced with the scale network the first time."""
    ws = folder / "ws"
    if (ws / "breadcrumbs.duckdb").exists():
        return ws
    base, _ = scale.write_network(folder / "network", contacts, conversations)
    ws = scale.profile_for(ws)
    crumbs = str(Path(sys.executable).parent / "breadcrumbs")
    done = run([crumbs, "sync", str(base), "-w", str(ws), "--no-prefect"], ws, env())
    print(f"synced in {done.seconds:.1f} s, peak {done.peak_mib:.0f} MiB", flush=True)
    return ws


def measure(ws: Path, which: str, repeat: int, code: Path = ROOT) -> dict[str, Any]:
    """Least of `repeat` fresh processes (wall and CPU seconds), and the highest peak."""
    best: dict[str, Any] = {}
    for _ in range(repeat):
        done = run([sys.executable, "-c", scale.DETECT, str(ws), which], ws, env(code))
        got = last_json(done.stdout)
        got["cpu"] = done.cpu
        print(got, flush=True)
        if not best or got["seconds"] < best["seconds"]:
            best = {**got, "peak": max(got["peak"], best.get("peak", 0))}
        else:
            best["peak"] = max(got["peak"], best["peak"])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--list", default="all", choices=("all", "follow-up", "cold", "monthly"))
    args = parser.parse_args()
    ws = synced(args.folder.resolve(), args.contacts, args.conversations)
    best = measure(ws, args.list, args.repeat, args.code.resolve())
    print(f"least of {args.repeat}: {best}")


if __name__ == "__main__":
    main()
