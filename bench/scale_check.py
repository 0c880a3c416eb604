"""`make scale-check`: many job seekers on one Prefect server on PostgreSQL, for real.

A throwaway PostgreSQL (bench/postgres.py), a Prefect server on it, one `process` work pool
with a work queue per machine and a worker on each queue (both machines are this one here;
on a coach's network each worker runs where its clients' folders are). Three workspaces,
each with people of its own, get the monthly digest at once, plus a follow-up on one of them
at the same time. It checks that each workspace's emails come from its own data only, none
twice (each person gets this month's update or, met yesterday, a thank-you), that each got
all it should, and that every run completes and ran on its workspace's machine; prints what
it saw.

    python -m bench.scale_check [--people 150]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.postgres import postgres
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.sync import run_sync
from breadcrumbs.workspace import init_workspace
from tests.follow_up_support import recipients, write_profile
from tests.prefect_stack import prefect, prefect_server, wait_for_run, worker

TODAY = "2026-11-25"
# Which machine holds which client's folder: a run is sent to that machine's work queue.
MACHINES = {"ann": "machine-a", "bea": "machine-a", "cat": "machine-b"}
# The batch every workspace gets at once, and a follow-up on one of them at the same time.
BATCH = "monthly-digest/monthly-digest"
EXTRA = ("follow-up/follow-up", "ann")
RECENT = 10  # people per workspace met yesterday: thank-yous, not updates


def make_workspace(root: Path, name: str, people: int) -> Workspace:
    """People of this workspace alone (`<name>-<i>@<name>.example`), each met in October
    (this month's update is due to them), the first ten met again yesterday (a thank-you
    is due; the update waits for the quiet period)."""
    ws = Workspace(root / name)
    init_workspace(ws)
    write_profile(ws)
    sheet = ws.root / "sheet"
    sheet.mkdir()
    address = [f"{name}-{i}@{name}.example" for i in range(people)]
    with (sheet / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["email", "name"])
        out.writerows([a, f"Person {i}"] for i, a in enumerate(address))
    with (sheet / "interactions.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["date", "contact", "kind"])
        out.writerows(["2026-10-20", a, "call"] for a in address)
        out.writerows(["2026-11-24", a, "coffee"] for a in address[:RECENT])
    run_sync(ws, str(sheet))  # remembers the source for the runs' own syncs
    return ws


def check(
    workspaces: dict[str, Workspace],
    runs: list[tuple[str, Any]],
    logs: dict[str, Path],
    people: int,
) -> list[str]:
    """Everything that is wrong, as sentences; empty when all is well."""
    problems = []
    for who, run in runs:
        if not run.state.is_completed():
            problems.append(f"{run.name}: {run.state.name} ({run.state.message})")
        if run.work_queue_name != MACHINES[who]:
            problems.append(f"{run.name} went to queue {run.work_queue_name}, not {MACHINES[who]}")
        ran_on = [m for m, log in logs.items() if str(run.id) in log.read_text(errors="replace")]
        if ran_on != [MACHINES[who]]:
            problems.append(f"{run.name} was picked up by {ran_on or 'no worker'}")
    for who, ws in workspaces.items():
        sent = recipients(ws)
        foreign = [r for r in sent if not r.endswith(f"@{who}.example")]
        if foreign:
            problems.append(f"{who}: {len(foreign)} emails to other workspaces' people")
        twice = [r for r, n in Counter(sent).items() if n > 1]
        if twice:
            problems.append(f"{who}: {len(twice)} people emailed twice")
        # Updates to all but the recently met; their thank-yous where a follow-up ran too.
        wanted = people if who == EXTRA[1] else people - RECENT
        if len(set(sent)) != wanted:
            problems.append(f"{who}: {len(set(sent))} people emailed, {wanted} expected")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=150, help="people per workspace")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="breadcrumbs-scale-") as tmp:
        root = Path(tmp)
        with postgres(root / "postgres") as url:
            print(f"PostgreSQL up ({time.monotonic() - started:.0f} s)", flush=True)
            extra = {"PREFECT_API_DATABASE_CONNECTION_URL": url}
            with prefect_server(root / "prefect", extra) as env:
                print(f"Prefect server on PostgreSQL ({time.monotonic() - started:.0f} s)")
                return run_check(root, env, args.people, started)
    return 1


def run_check(root: Path, env: dict[str, str], people: int, started: float) -> int:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    prefect(env, "work-pool", "create", "breadcrumbs", "--type", "process")
    for machine in sorted(set(MACHINES.values())):
        prefect(env, "work-queue", "create", machine, "--pool", "breadcrumbs")
    prefect(env, "deploy", "--all")
    workspaces = {who: make_workspace(root / "clients", who, people) for who in MACHINES}
    # INFO, so each worker's log names the runs it picked up: that is how we know where
    # each run went.
    worker_env = {
        **env,
        "BREADCRUMBS_TODAY": TODAY,
        "BREADCRUMBS_HOME": str(root / "default"),  # never the checkout's data/
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    logs = {m: root / f"worker-{m}.log" for m in sorted(set(MACHINES.values()))}
    a, b = sorted(logs)
    with (
        worker(worker_env, "breadcrumbs", logs[a], name=a, queue=a),
        worker(worker_env, "breadcrumbs", logs[b], name=b, queue=b),
        temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        print(f"Two workers up ({time.monotonic() - started:.0f} s); starting the runs")
        t0 = time.monotonic()
        wanted = [(BATCH, who) for who in MACHINES] + [EXTRA]
        created = []
        for deployment_name, who in wanted:
            deployment = client.read_deployment_by_name(deployment_name)
            run = client.create_flow_run_from_deployment(
                deployment.id,
                parameters={"workspace": str(workspaces[who].root)},
                work_queue_name=MACHINES[who],
            )
            created.append((who, run))
        runs = [(who, wait_for_run(client, run.id, timeout=900)) for who, run in created]
        wall = time.monotonic() - t0

    print(f"\n{'run':28} {'queue':10} {'state':10} {'seconds':>8}")
    for _, run in runs:
        seconds = run.total_run_time.total_seconds()
        print(f"{run.name:28} {run.work_queue_name:10} {run.state.name:10} {seconds:8.1f}")
    print(f"\nwall time for the {len(runs)} runs: {wall:.1f} s")
    for who, ws in workspaces.items():
        with open_store(ws) as con:
            ledger = dict(con.execute("SELECT state, count(*) FROM messages GROUP BY 1").fetchall())
        sent = recipients(ws)
        dupes = sum(n - 1 for n in Counter(sent).values())
        print(f"{who}: {len(sent)} emails of {people} people, {dupes} duplicates, ledger {ledger}")
    problems = check(workspaces, runs, logs, people)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    verdict = "FAILED" if problems else "passed"
    print(f"\nscale-check {verdict} in {time.monotonic() - started:.0f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
