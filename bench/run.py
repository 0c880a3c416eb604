"""`make bench`: every speed goal of issue 11, each beside its baseline, into bench/RESULTS.md.

    python -m bench.run [--only readme,prefect,scale,xlsx,gmail,help] [--people 10000]
                        [--contacts 100000] [--conversations 1000000]

Cases (see each module): readme (the README's path vs mailmerge + plain writes), prefect
(overhead of a local Prefect server on the README's path and on the monthly digest, flat in
batch size), scale (100k contacts / 1M conversations vs DuckDB's own read_csv), xlsx (rows/s
vs openpyxl and python-calamine), gmail (pacing against the fake's quota), help
(`breadcrumbs --help`). Scratch files live in .bench/ of the checkout, not /tmp: creating a
file in /tmp costs twenty times as much on these machines.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench import gmail, prefect_overhead, readme, scale
from bench.measure import Figure, Results, run

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CASES = ("help", "readme", "digest", "prefect", "gmail", "xlsx", "scale")


def help_case(results: Results, env: dict[str, str]) -> None:
    baseline = run([sys.executable, "-c", "pass"], ROOT, env)
    shown = run([str(BIN / "breadcrumbs"), "--help"], ROOT, env)
    results.add(
        Figure(
            "help",
            "breadcrumbs --help, whole process",
            shown.seconds,
            "s",
            "python -c pass",
            baseline.seconds,
            "< 1 s",
            shown.seconds < 1.0,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument(
        "--beside",
        type=Path,
        default=None,
        help="another version's source tree (e.g. `git archive main`): the readme and digest "
        "cases also run its whole processes, alternately with this one's, in the same rounds",
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = set(chosen) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from {CASES}")
    env = {
        **os.environ,
        "BREADCRUMBS_TODAY": "2026-11-25",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    env.pop("PREFECT_API_URL", None)  # the plain path; the prefect case starts its own server
    # Breadcrumbs as an install has it: pip compiles an installed package's bytecode, as it
    # did mailmerge's; a checkout writes its own on first import, unless
    # PYTHONDONTWRITEBYTECODE is set (it is, on these machines), when every command compiled
    # the package's modules afresh, about 0.04 CPU-s of each (issue 11, branch fastpath).
    for package in ("breadcrumbs", "flows"):
        compileall.compile_dir(ROOT / package, quiet=1)
        if args.beside is not None:
            compileall.compile_dir(args.beside / package, quiet=1)
    beside = None
    if args.beside is not None:
        # Its own code first on the path; the same interpreter, packages and bin/ as ours.
        path = os.pathsep.join([str(args.beside.resolve()), env["PYTHONPATH"]])
        beside = readme.Beside(args.beside.name, {**env, "PYTHONPATH": path})
    results = Results(command="python -m bench.run " + " ".join(sys.argv[1:]))
    (ROOT / ".bench").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=ROOT / ".bench"))
    try:
        for name in chosen:
            folder = scratch / name
            folder.mkdir()
            if name == "help":
                help_case(results, env)
            elif name == "readme":
                readme.case(results, folder, args.people, BIN, env, beside)
            elif name == "digest":
                readme.digest_case(results, folder, args.people, BIN, env, beside)
            elif name == "prefect":
                prefect_overhead.case(results, folder, args.people, BIN, env)
            elif name == "gmail":
                gmail.case(results, folder, BIN, env)
            elif name == "xlsx":
                scale.xlsx_case(results, folder, args.contacts, env)
            elif name == "scale":
                scale.case(results, folder, args.contacts, args.conversations, BIN, env)
            args.out.write_text(results.markdown(), encoding="utf-8")  # partial, if one fails
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        args.out.write_text(results.markdown(), encoding="utf-8")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
