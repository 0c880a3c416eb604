"""Prefect flow `monthly-digest`: sync, mailbox touches (Gmail modes), detect, compose,
deliver this month's updates; the summary, recipients, progress and funnel as artifacts.

Wiring only (see breadcrumbs/digest.py): run_digest sequences the stages and this flow
passes its tasks in their place. Tasks are one per stage; the emails go from compose to
deliver through the ledger, and the due list is quoted so Prefect does not walk it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from breadcrumbs.flows.artifacts import Progress, artifact_key, publish_funnel
from breadcrumbs.flows.bulk import Rows, bulk, unwalked
from breadcrumbs.flows.naming import run_name
from breadcrumbs.flows.sync_flow import sync_contacts
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from breadcrumbs.digest import (
    DigestReport,
    DigestStages,
    MonthlyDetection,
    compose_stage,
    deliver_stage,
    detect_stage,
    run_digest,
)
from breadcrumbs.follow_up import Outcome, touches_stage
from breadcrumbs.profile import Profile
from breadcrumbs.records import Due
from breadcrumbs.settings import Workspace, resolve_workspace

TABLE_ROWS = 200  # a table artifact of 10,000 rows was 2 MB: the counts and the first rows


@task(name="mailbox-touches", cache_policy=NO_CACHE, persist_result=False)
def touches_task(workspace: Workspace, profile: Profile) -> str:
    return touches_stage(workspace, profile)


@task(name="detect", cache_policy=NO_CACHE, persist_result=False)
def detect_task(
    workspace: Workspace, profile: Profile, month: str, record: bool
) -> MonthlyDetection:
    return detect_stage(workspace, profile, month, record)


@task(name="compose", cache_policy=NO_CACHE, persist_result=False)
def compose_task(
    workspace: Workspace, profile: Profile, due: list[Due], mode: str, record: bool
) -> tuple[list[Outcome], str]:
    return compose_stage(workspace, profile, due, mode, record)


def compose_quoted(
    workspace: Workspace, profile: Profile, due: list[Due], mode: str, record: bool
) -> tuple[list[Outcome], str]:
    return compose_task(workspace, profile, bulk(due), mode, record)  # see flows/bulk.py


# Never retried: a repeated delivery is exactly what the ledger exists to prevent.
@task(name="deliver", cache_policy=NO_CACHE, persist_result=False, retries=0)
def deliver_task(workspace: Workspace, mode: str, profile: Profile) -> Rows[Outcome]:
    progress = Progress(
        artifact_key(workspace, "monthly-digest-progress"), "Delivering this month's updates"
    )
    outcomes = deliver_stage(workspace, mode, profile, progress=progress)
    progress.finish()
    # As Rows: Prefect visits a task's result one level deep, i.e. every outcome of a list.
    return Rows.of(outcomes)


def deliver_unwrapped(workspace: Workspace, mode: str, profile: Profile) -> list[Outcome]:
    delivered: Rows[Outcome] = deliver_task(workspace, mode, profile)
    return delivered.data


def publish(workspace: Workspace, report: DigestReport) -> None:
    """The month's summary as sent, its recipients and states, and the funnel."""
    states = Counter(o.state for o in report.outcomes) + Counter(
        {"waiting": len(report.waiting)} if report.waiting else {}
    )
    counts = ", ".join(f"{n} {s}" for s, n in states.most_common()) or "nothing this run"
    decided = (
        "not decided: a dry run records nothing"
        if report.first_run and report.dry_run
        else "decided by this run"
        if report.first_run
        else "decided by the month's first run"
    )
    month_so_far = ", ".join(f"{n} {s}" for s, n in sorted(report.states.items())) or "none"
    lines = [
        f"# Monthly update, {report.month}",
        "",
        f"{report.listed} people on the list ({decided}). This run ({report.mode}"
        f"{', dry run' if report.dry_run else ''}): {counts}. The month so far: {month_so_far}.",
        "",
        *[f"> {note}" for note in report.notes],
        "",
        "## What every update says",
        "",
        report.summary or "No update was composed this run.",
    ]
    create_markdown_artifact(
        key=artifact_key(workspace, "monthly-digest-summary"),
        markdown="\n".join(lines),
        description=f"The {report.month} update as sent",
    )
    rows: list[dict[str, Any]] = [
        {"to": o.to, "name": o.name, "state": o.state, "why": o.reason} for o in report.outcomes
    ] + [
        {"to": w.due.email, "name": w.due.name, "state": "waiting", "why": w.reason}
        for w in report.waiting
    ]
    shown = f"the first {TABLE_ROWS} of {len(rows)}" if len(rows) > TABLE_ROWS else "all"
    create_table_artifact(
        key=artifact_key(workspace, "monthly-digest-recipients"),
        table=rows[:TABLE_ROWS] or [{"note": "nobody to deliver to in this run"}],
        description=f"{report.month}: {counts} ({shown} rows)",
    )
    publish_funnel(workspace, report.month)


@flow(name="monthly-digest", flow_run_name=run_name, log_prints=True, persist_result=False)
def monthly_digest(
    workspace: str | None = None,
    month: str | None = None,
    mode: str = "outbox",
    limit: int | None = None,
    dry_run: bool = False,
    sync: bool = True,
) -> DigestReport:
    """This month's update to everyone you have talked with; the month's first run decides
    who, later runs deliver only what the cap or a failure held back."""
    ws = resolve_workspace(workspace)
    if sync:
        sync_contacts(workspace=str(ws.root), skip_unchanged=True)
    report = run_digest(
        ws,
        month,
        mode,
        limit,
        dry_run,
        stages=DigestStages(
            touches=touches_task,
            detect=detect_task,
            compose=compose_quoted,
            deliver=deliver_unwrapped,
        ),
    )
    publish(ws, report)
    logger = get_run_logger()
    for note in report.notes:
        logger.info(note)
    logger.info(
        "%s: %d on the list, %d delivered now, %d waiting",
        report.month,
        report.listed,
        sum(1 for o in report.outcomes if o.state in ("written", "drafted", "sent")),
        len(report.waiting),
    )
    return unwalked(report)  # its lists as Rows: Prefect walks a flow's return value
