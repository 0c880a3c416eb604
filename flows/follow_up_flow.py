"""Prefect flow `follow-up`: sync, detect, compose, deliver; artifacts a person reads.

Wiring only (see follow_up.py). Tasks are one per stage, never one per email: per-email
truth lives in the ledger, and a burst of task runs would swamp the Prefect server.
"""

from __future__ import annotations

from breadcrumbs.flows.artifacts import artifact_key, publish_funnel
from breadcrumbs.flows.naming import run_name
from breadcrumbs.flows.sync_flow import sync_contacts
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


@task(name="mailbox-touches", cache_policy=NO_CACHE)
def touches_task(workspace: Workspace, profile: Profile) -> str:
    return touches_stage(workspace, profile)


@task(name="detect", cache_policy=NO_CACHE)
def detect_task(workspace: Workspace, profile: Profile) -> Detection:
    return detect_stage(workspace, profile)


@task(name="compose", cache_policy=NO_CACHE)
def compose_task(
    workspace: Workspace, profile: Profile, due: list[Due], mode: str
) -> tuple[list[Composed], list[Outcome]]:
    return compose_stage(workspace, profile, due, mode)


# Never retried: a repeated delivery is exactly what the ledger exists to prevent.
@task(name="deliver", cache_policy=NO_CACHE, retries=0)
def deliver_task(
    workspace: Workspace, mode: str, profile: Profile, composed: list[Composed]
) -> list[Outcome]:
    return deliver_in_mode(workspace, mode, profile, composed)


def publish(workspace: Workspace, report: FollowUpReport) -> None:
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
    create_table_artifact(
        key=artifact_key(workspace, "follow-up-emails"),
        table=rows or [{"note": "nothing was due"}],
        description=f"Emails of the {report.mode} follow-up on {report.today}",
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
    for c in report.cold:
        days = c.days(today)
        touch = "never" if days is None else f"{c.last_touch} ({days} days ago)"
        lines.append(f"| {c.name} | {c.phone} | {c.email or ''} | {touch} |")
    create_markdown_artifact(
        key=artifact_key(workspace, "going-cold"),
        markdown="\n".join(lines),
        description="Going cold: call these people",
    )


@flow(name="follow-up", flow_run_name=run_name, log_prints=True)
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
        sync_contacts(workspace=str(ws.root))  # a subflow: the sheet's latest, then detect
    report = run_follow_up(
        ws,
        mode,
        limit,
        dry_run,
        stages=Stages(
            touches=touches_task, detect=detect_task, compose=compose_task, deliver=deliver_task
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
    return report
