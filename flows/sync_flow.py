"""Prefect flow `sync-contacts`: read, validate, load, and a table artifact of the rejects.

Wiring only: each task is one stage of breadcrumbs/sync.py. Tasks are coarse on purpose (one per
stage), since every task run costs the Prefect server real work.
"""

from __future__ import annotations

from breadcrumbs.flows.artifacts import artifact_key
from breadcrumbs.flows.bulk import bulk, unwalked
from breadcrumbs.flows.naming import run_name
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from breadcrumbs.profile import load_profile
from breadcrumbs.settings import Workspace, resolve_workspace
from breadcrumbs.sources.read import Table
from breadcrumbs.sync import (
    SyncReport,
    load_stage,
    read_stage,
    resolve_source,
    sheet_reader_for,
    source_fingerprint,
    unchanged_since_last_sync,
    validate_stage,
)
from breadcrumbs.validate import Validated


@task(name="read", cache_policy=NO_CACHE, persist_result=False, retries=2, retry_delay_seconds=5)
def read_task(source: str, workspace: Workspace) -> list[Table]:
    # Reading is safe to repeat (a network blip on a Google Sheet), so it alone retries.
    return read_stage(source, sheet_reader_for(workspace))


@task(name="validate", cache_policy=NO_CACHE, persist_result=False)
def validate_task(tables: list[Table], workspace: Workspace) -> Validated:
    return validate_stage(tables, load_profile(workspace.profile_path))


@task(name="load", cache_policy=NO_CACHE, persist_result=False)
def load_task(
    workspace: Workspace, data: Validated, source: str, fingerprint: str | None = None
) -> SyncReport:
    return load_stage(workspace, data, source, fingerprint)


# An artifact is for a person to read in the UI: the first rows and the counts, never a
# table of every row (10,000 rows were 2 MB in the server's database; issue 11).
ARTIFACT_ROWS = 200


def publish_rejects(workspace: Workspace, report: SyncReport) -> None:
    rows = [
        {
            "file": r.file,
            "row": r.row,
            "column": r.column,
            "value": r.value[:80],
            "reason": r.reason,
            "severity": r.severity,
        }
        for r in report.rejects[:ARTIFACT_ROWS]
    ]
    if rows:
        create_table_artifact(
            key=artifact_key(workspace, "sync-rejects"),
            table=rows,
            description=f"Rows and cells refused by sync {report.counts.sync_id}"
            + (
                f" (the first {ARTIFACT_ROWS} of {len(report.rejects):,}: "
                "`breadcrumbs rejects` lists them all)"
                if len(report.rejects) > ARTIFACT_ROWS
                else ""
            ),
        )
    else:
        create_markdown_artifact(
            key=artifact_key(workspace, "sync-rejects"),
            markdown="No rejects: every row loaded.",
            description=f"Rejects of sync {report.counts.sync_id}",
        )


@flow(name="sync-contacts", flow_run_name=run_name, log_prints=True, persist_result=False)
def sync_contacts(
    workspace: str | None = None, source: str | None = None, skip_unchanged: bool = False
) -> SyncReport:
    """Sync the workspace's spreadsheet into its database (see sync.run_sync)."""
    ws = resolve_workspace(workspace)
    profile = load_profile(ws.profile_path)
    resolved = resolve_source(ws, source, profile)
    fingerprint = source_fingerprint(resolved, profile)
    unchanged = unchanged_since_last_sync(ws, resolved, fingerprint) if skip_unchanged else None
    if unchanged is not None:
        get_run_logger().info("%s is as the last sync read it: nothing to load", resolved)
        publish_rejects(ws, unchanged)
        return unwalked(unchanged)
    tables = read_task(resolved, ws)
    data = validate_task(bulk(tables), ws)
    report = load_task(ws, bulk(data), resolved, fingerprint)
    publish_rejects(ws, report)
    c = report.counts
    get_run_logger().info(
        "loaded %d contacts, %d conversations, %d prospects; %d rejected",
        c.contacts,
        c.interactions,
        c.prospects,
        c.rejected,
    )
    return unwalked(report)  # the rejects as Rows: Prefect walks a flow's return value
