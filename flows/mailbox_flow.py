"""Prefect flow `mailbox-touches`: read recent Gmail so last-touch is true (see mailbox.py)."""

from __future__ import annotations

from breadcrumbs.flows.naming import run_name
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from breadcrumbs import clock
from breadcrumbs.follow_up import load_checked_profile
from breadcrumbs.google.mailbox import run_mailbox_touches
from breadcrumbs.settings import resolve_workspace


# Reading the mailbox is safe to repeat: it may retry.
@task(
    name="read-mailbox",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=10,
)
def read_mailbox_task(workspace: str | None, days: int) -> tuple[int, int]:
    ws = resolve_workspace(workspace)
    profile = load_checked_profile(ws)
    return run_mailbox_touches(ws, profile.me.email, days, clock.today())


@flow(name="mailbox-touches", flow_run_name=run_name, log_prints=True, persist_result=False)
def mailbox_touches(workspace: str | None = None, days: int = 60) -> tuple[int, int]:
    """Record replies and sent mail as touches, and bounces as unmailable addresses."""
    touches, bounces = read_mailbox_task(workspace, days)
    get_run_logger().info("%d new touches, %d new bounced addresses", touches, bounces)
    return touches, bounces
