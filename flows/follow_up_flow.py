"""Prefect flow `follow-up`: sync, detect, compose, deliver; artifacts a person reads.

Wiring only (see follow_up.py). Tasks are one per stage, never one per email: per-email
truth lives in the ledger, and a burst of task runs would swamp the Prefect server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from breadcrumbs.flows.artifacts import artifact_key, publish_funnel
from breadcrumbs.flows.bulk import Rows, bulk, unwalked
from breadcrumbs.flows.naming import run_name
from breadcrumbs.flows.sync_flow import ARTIFACT_ROWS, sync_contacts
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from breadcrumbs import clock
from breadcrumbs.detect import Detection
from breadcrumbs.follow_up import (
    FollowUpReport,
    Outcome,
    Stages,
    compose_stage,
    deliver_in_mode,
    detect_stage,
    run_follow_up,
    touches_stage,
)
from breadcrumbs.profile import Profile
from breadcrumbs.records import Composed, Due
from breadcrumbs.settings import Workspace, resolve_workspace


@task(name="mailbox-touches", cache_policy=NO_CACHE, persist_result=False)
def touches_task(workspace: Workspace, profile: Profile) -> str:
    return touches_stage(workspace, profile)


@task(name="detect", cache_policy=NO_CACHE, persist_result=False)
def detect_task(workspace: Workspace, profile: Profile) -> Detection:
    return detect_stage(workspace, profile)


@task(name="compose", cache_policy=NO_CACHE, persist_result=False)
def compose_task(
    workspace: Workspace, profile: Profile, due: Sequence[Due], mode: str
) -> tuple[list[Composed], list[Outcome]]:
    return compose_stage(workspace, profile, due, mode)


# Never retried: a repeated delivery is exactly what the ledger exists to prevent.
@task(name="deliver", cache_policy=NO_CACHE, persist_result=False, retries=0)
def deliver_task(
    workspace: Workspace, mode: str, profile: Profile, composed: list[Composed]
) -> Rows[Outcome]:
    # As Rows: Prefect visits a task's result one level deep, i.e. every outcome of a list.
    return Rows.of(deliver_in_mode(workspace, mode, profile, composed))


# The bulk arguments (10,000 due or composed emails) go to the tasks quoted: see flows/bulk.py.
def _compose_quoted(
    workspace: Workspace, profile: Profile, due: Sequence[Due], mode: str
) -> tuple[list[Composed], list[Outcome]]:
    return compose_task(workspace, profile, bulk(due), mode)


def _deliver_quoted(
    workspace: Workspace, mode: str, profile: Profile, composed: list[Composed], **extra: Any
) -> list[Outcome]:
    return deliver_task(workspace, mode, profile, bulk(composed), **extra).data


def publish(workspace: Workspace, report: FollowUpReport) -> None:
    """A bounded table (the first rows, and counts by state) and the call list: a table of
    10,000 rows was 2 MB in the server's database and unreadable in the UI."""
    rows = [
        {
            "to": o.to,
            "name": o.name,
            "kind": o.kind,
            "subject": o.subject,
            "state": o.state,
            "reason": o.reason,
        }
        for o in report.outcomes
    ] + [
        {
            "to": w.due.email,
            "name": w.due.name,
            "kind": w.due.kind,
            "subject": "",
            "state": "waiting",
            "reason": w.reason,
        }
        for w in report.waiting
    ]
    states = Counter(str(row["state"]) for row in rows)
    shown = f"the first {ARTIFACT_ROWS} of {len(rows):,}" if len(rows) > ARTIFACT_ROWS else "all"
    create_table_artifact(
        key=artifact_key(workspace, "follow-up-emails"),
        table=rows[:ARTIFACT_ROWS] or [{"note": "nothing was due"}],
        description=f"Emails of the {report.mode} follow-up on {report.today} ({shown}; "
        + ", ".join(f"{n:,} {state}" for state, n in states.most_common())
        + "). Every email: `breadcrumbs status`.",
    )
    today = report.today or clock.today()
    lines = [
        "# Call these people",
        "",
        "Nobody has heard from them in a long time, or ever. A warm call beats an email.",
        "",
        "| name | phone | email | last touch |",
        "|---|---|---|---|",
    ]
    for c in report.cold[:ARTIFACT_ROWS]:
        days = c.days(today)
        touch = "never" if days is None else f"{c.last_touch} ({days} days ago)"
        lines.append(f"| {c.name} | {c.phone} | {c.email or ''} | {touch} |")
    if len(report.cold) > ARTIFACT_ROWS:
        lines += ["", f"… and {len(report.cold) - ARTIFACT_ROWS:,} more: `breadcrumbs due`."]
    create_markdown_artifact(
        key=artifact_key(workspace, "going-cold"),
        markdown="\n".join(lines),
        description="Going cold: call these people",
    )


@flow(name="follow-up", flow_run_name=run_name, log_prints=True, persist_result=False)
def follow_up(
    workspace: str | None = None,
    mode: str = "outbox",
    limit: int | None = None,
    dry_run: bool = False,
    sync: bool = True,
) -> FollowUpReport:
    """Thank-yous and intros due now, each delivered at most once."""
    ws = resolve_workspace(workspace)
    if sync:
        # A subflow: the sheet's latest, then detect; a sheet untouched since the last sync
        # is not read again.
        sync_contacts(workspace=str(ws.root), skip_unchanged=True)
    report = run_follow_up(
        ws,
        mode,
        limit,
        dry_run,
        stages=Stages(
            touches=touches_task,
            detect=detect_task,
            compose=_compose_quoted,
            deliver=_deliver_quoted,
        ),
    )
    publish(ws, report)
    publish_funnel(ws)
    get_run_logger().info(
        "%d delivered, %d skipped, %d waiting, %d going cold",
        sum(1 for o in report.outcomes if o.state in ("written", "drafted", "sent")),
        report.count("skipped"),
        len(report.waiting),
        len(report.cold),
    )
    return unwalked(report)  # its lists as Rows: Prefect walks a flow's return value
