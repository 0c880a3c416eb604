"""Detect alone on an already-synced scale workspace: every due list, in-process, least of N.

The scale case (`python -m bench.run --only scale`) syncs 100,000 contacts and 1,000,000
conversations first, which takes minutes; this keeps one synced workspace in a folder and
measures only detect on it, each run in a fresh process (its own peak RSS):

    python -m bench.detect_only .bench/detect-ws            # syncs once if the folder is new
    python -m bench.detect_only .bench/detect-ws --repeat 5 --list monthly
    python -m bench.detect_only .bench/detect-ws --code /work/main   # main's detect, same data
    python -m bench.detect_only .bench/detect-ws --baseline /work/main  # both, taking turns
    python -m bench.detect_only .bench/detect-ws --steps   # CPU seconds per query and list

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


# CPU seconds of each step of every due list (least of 3), in one process: each query alone
# (execute and fetch), then each Python pass over the fetched rows, then building every item
# of every list (what `breadcrumbs due` does when it prints them all; a follow-up or digest
# run builds only the due it composes and the waiting it shows).
STEPS = """
import sys, time
from datetime import date, timedelta
from pathlib import Path
import duckdb
from breadcrumbs import detect
from breadcrumbs.follow_up import taken_today
from breadcrumbs.profile import load_profile
from breadcrumbs.settings import Workspace
from breadcrumbs.store import roster
from breadcrumbs.store.database import open_store
ws = Workspace(Path(sys.argv[1]))
profile = load_profile(ws.profile_path)
today, et, me = date.fromisoformat(sys.argv[2]), profile.etiquette, profile.me.email
month, since = sys.argv[2][:7], today - timedelta(days=detect.ACTIVITY_DAYS)
thanks = detect.THANK_YOU_SQL.format(talks=detect._RECENT_TALKS)
referred = detect.REFERRED_SQL.format(talks="recent_talks")
monthly = {"today": today, "month": month, "me": me, "scope": "first", "only": None}
best = None
for _ in range(3):
    cpu, wall = time.process_time(), time.perf_counter()
    with open_store(ws):
        pass
    took = (time.process_time() - cpu, time.perf_counter() - wall)
    best = min(best or took, took)
print(f"{best[0]:6.3f} CPU-s {best[1]:6.3f} wall-s  {'':>8}      open_store (once a stage)")
# Held as the CLI's digest holds it (the month's list reads what its updates show as they
# are built); the lists of a follow-up read nothing later.
from breadcrumbs.store.database import one_opening
with one_opening(ws), open_store(ws) as con:
    found = detect.find_candidates(con, today, et, me)
    cold = detect.going_cold(con, today, et, me)
    candidates, quiet = detect.find_monthly_candidates(con, today, month, et, me, "first")
    steps = {
        "taken_today (follow-up and monthly once each)": lambda: [taken_today(con, today, et)],
        "roster: withdraw, decided_on, month_counts": lambda: [
            roster.withdraw_past_months(con, today), roster.decided_on(con, month),
            roster.month_counts(con, month)],
        "thank-you query (execute+fetch)": lambda: con.execute(
            thanks, {"today": today, "window": et.thank_you_days}).fetchall(),
        "intro query (execute+fetch)": lambda: con.execute(
            detect.INTRO_SQL, {"me": me}).fetchall(),
        "apply_etiquette (thank-yous and intros)": lambda: detect.apply_etiquette(
            found, today, et, 0).waiting,
        "cold query (execute+fetch)": lambda: con.execute(
            detect.COLD_SQL, {"today": today, "cold": et.cold_days, "me": me}).fetchall(),
        "monthly referred query (execute+fetch)": lambda: con.execute(
            referred, {"today": today, "since": since, "only": None}).fetchall(),
        "monthly query (execute+fetch)": lambda: con.execute(
            detect.MONTHLY_SQL, monthly).fetchall(),
        "monthly query, deciding columns (execute+fetch; main: none)": lambda: con.execute(
            detect.MONTHLY_DECIDE_SQL, monthly).fetchall()
            if hasattr(detect, "MONTHLY_DECIDE_SQL") else [],
        "find_monthly_candidates (both + quiet split)": lambda: detect.find_monthly_candidates(
            con, today, month, et, me, "first")[0],
        "apply_etiquette (monthly)": lambda: detect.apply_etiquette(
            candidates, today, et, 0).waiting,
        "listed_readers (monthly)": lambda: detect.listed_readers(candidates),
        "build every thank-you/intro Due, Skipped (once)": lambda: (lambda d: list(d.due)
            + list(d.waiting))(detect.apply_etiquette(found, today, et, 0)),
        "build every Cold (once)": lambda: list(detect.going_cold(con, today, et, me)),
        "build every monthly Due, Skipped (once)": lambda: (lambda d: list(d.due)
            + list(d.waiting) + list(quiet))(detect.apply_etiquette(candidates, today, et, 0)),
    }
    for name, step in steps.items():
        best = None
        for _ in range(3):
            if name.startswith("build"):  # fresh lists: each item is built once
                found = detect.find_candidates(con, today, et, me)
                candidates, quiet = detect.find_monthly_candidates(
                    con, today, month, et, me, "first")
            cpu, wall = time.process_time(), time.perf_counter()
            got = step()
            took = (time.process_time() - cpu, time.perf_counter() - wall)
            best = min(best or took, took)
        print(f"{best[0]:6.3f} CPU-s {best[1]:6.3f} wall-s  {len(got):>8,} rows  {name}")
"""


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


def measure(
    ws: Path, which: str, repeat: int, code: Path = ROOT, closed: bool = False
) -> dict[str, Any]:
    """Least of `repeat` fresh processes (wall and CPU seconds), and the highest peak."""
    return measure_pair(ws, which, repeat, [code], closed)[0]


def measure_pair(
    ws: Path, which: str, repeat: int, codes: list[Path], closed: bool = False
) -> list[dict[str, Any]]:
    """Each checkout's least of `repeat` fresh processes, the runs taking turns (one of each,
    then again) so that both see the same load; CPU seconds the least too."""
    best: list[dict[str, Any]] = [{} for _ in codes]
    for _ in range(repeat):
        for n, code in enumerate(codes):
            how = ["closed"] if closed else []
            done = run([sys.executable, "-c", scale.DETECT, str(ws), which, *how], ws, env(code))
            got = last_json(done.stdout)
            got["cpu"] = done.cpu
            print(code, got, flush=True)
            was = best[n]
            if not was or got["seconds"] < was["seconds"]:
                best[n] = {**got, "peak": max(got["peak"], was.get("peak", 0))}
            else:
                was["peak"] = max(got["peak"], was["peak"])
            for key in ("cpu", "detect_cpu"):
                if key in got:
                    best[n][key] = min(got[key], was.get(key, got[key]))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout measured in turn with this one"
    )
    parser.add_argument("--steps", action="store_true", help="CPU seconds per step instead")
    parser.add_argument("--list", default="all", choices=("all", "follow-up", "cold", "monthly"))
    parser.add_argument(
        "--closed",
        action="store_true",
        help="the month's stage in its own opening (as `due` runs it), not one held on",
    )
    args = parser.parse_args()
    ws = synced(args.folder.resolve(), args.contacts, args.conversations)
    if args.steps:
        done = run([sys.executable, "-c", STEPS, str(ws), TODAY], ws, env(args.code.resolve()))
        print(done.stdout, end="")
        return
    if args.baseline:
        ours, base = measure_pair(
            ws, args.list, args.repeat, [args.code.resolve(), args.baseline.resolve()], args.closed
        )
        print(f"least of {args.repeat}, {args.code}: {ours}")
        print(f"least of {args.repeat}, {args.baseline}: {base}")
        for key in ("seconds", "cpu", "peak"):
            print(f"{key}: {ours[key]:.2f} vs {base[key]:.2f}, ratio {ours[key] / base[key]:.2f}")
        return
    best = measure(ws, args.list, args.repeat, args.code.resolve(), args.closed)
    print(f"least of {args.repeat}: {best}")


if __name__ == "__main__":
    main()
