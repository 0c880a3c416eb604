"""Where a sync's CPU and memory go, stage by stage and statement by statement (issue 11).

Generates a network (bench/generate.py), then in one process: reads it, validates it and
loads it into a fresh workspace, with the CPU seconds of each stage, of each SQL statement of
the load (the connection is wrapped, the code is the sync's own) and the process's RSS after
each step, with DuckDB's own account of its memory before the commit:

    python -m bench.load_parts .bench/parts --contacts 50000 --conversations 500000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from bench import generate
from bench.readme import make_workspace
from breadcrumbs import sync
from breadcrumbs.profile import load_profile
from breadcrumbs.settings import Workspace
from breadcrumbs.store import database


def _rss() -> str:
    with open("/proc/self/statm") as statm:
        now = int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return f"RSS {now:6.0f} MiB, peak {peak:6.0f} MiB"


class _Timed:
    """A connection whose execute adds its CPU seconds to `spent`, by statement."""

    def __init__(self, con: Any, spent: dict[str, float]) -> None:
        self._con = con
        self._spent = spent

    def execute(self, sql: str, *args: Any) -> Any:
        key = " ".join(sql.split())[:60]
        if key == "COMMIT":
            memory = self._con.execute(
                "SELECT tag, memory_usage_bytes // 2^20 FROM duckdb_memory() "
                "WHERE memory_usage_bytes > 2^20"
            ).fetchall()
            print(f"before COMMIT: {_rss()}; DuckDB's own (MiB): {memory}")
        start = time.process_time()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = self._con.execute(sql, *args)
        self._spent[key] = self._spent.get(key, 0.0) + time.process_time() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if peak > before + 50 * 1024:  # the statements that raised the peak by 50 MiB or more
            print(f"  peak {before // 1024:5d} -> {peak // 1024:5d} MiB: {key}")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--conversations", type=int, default=500_000)
    args = parser.parse_args()
    shutil.rmtree(args.folder, ignore_errors=True)
    source = str(generate.generate(args.folder / "sheet", args.contacts, args.conversations))
    workspace = Workspace(make_workspace(args.folder / "ws"))
    profile = load_profile(workspace.profile_path)
    print(f"{args.contacts:,} contacts, {args.conversations:,} conversations: {_rss()}")

    start = time.process_time()
    tables = sync.read_stage(source)
    print(f"read      {time.process_time() - start:6.2f} CPU-s  {_rss()}")
    start = time.process_time()
    data = sync.validate_stage(tables, profile)
    print(f"validate  {time.process_time() - start:6.2f} CPU-s  {_rss()}")
    del tables
    spent: dict[str, float] = {}
    plain = database.load
    sync.load = lambda con, data, source, limit=None: plain(
        _Timed(con, spent),  # type: ignore[arg-type]
        data,
        source,
        limit,  # the sync's memory bound (store.database.memory_bound)
    )
    start = time.process_time()
    sync.load_stage(workspace, data, source)
    print(f"load      {time.process_time() - start:6.2f} CPU-s  {_rss()}")
    print(f"  {sum(spent.values()):6.2f}  all statements of the load")
    for key, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:20]:
        print(f"  {seconds:6.2f}  {key}")


if __name__ == "__main__":
    main()
