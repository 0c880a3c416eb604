"""The Prefect flow `follow-up`, run for real against the session's test server: it syncs,
delivers through the ledger, and leaves the artifacts a person reads in the UI."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from breadcrumbs.flows.artifacts import artifact_key

from breadcrumbs.settings import Workspace
from tests.follow_up_support import (
    ledger,
    outbox,
    recipients,
    sql,
    sync,
    write_profile,
    write_sheet,
)

PEOPLE = """
    email,name,phone,opt_out
    ann@example.com,Ann Lee,,
    hal@example.com,Hal Moss,,yes
    gus@example.com,Gus Roe,614-555-0199,
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-11-24,ann@example.com,coffee,dbt at Acme,,Bob Stone <bob@example.com>
    2026-11-24,hal@example.com,call,,,
"""


def artifacts_of(flow_run_id: UUID) -> dict[str, Any]:
    """The run's artifacts by key, and the names of its task runs under "tasks"."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        task_runs = client.read_task_runs()
    out: dict[str, Any] = {a.key: a for a in found if a.key}
    out["tasks"] = {t.name.rsplit("-", 1)[0] for t in task_runs if t.flow_run_id == flow_run_id}
    return out


def table_of(artifact: Any) -> list[dict[str, Any]]:
    assert artifact.type == "table"
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(data, list)
    return data


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server", "today")
def test_the_follow_up_flow_delivers_and_publishes_the_emails_and_the_call_list(
    workspace: Workspace,
) -> None:
    """Sync (a subflow) picks up the sheet's latest; detect, compose, deliver run as tasks;
    a table of the emails and a "call these people" list are left on the run."""
    from breadcrumbs.flows.follow_up_flow import follow_up

    write_profile(workspace)
    write_sheet(workspace, PEOPLE, "date,contact,kind")
    sync(workspace)  # remembers the source; the flow's own sync then sees the conversations
    write_sheet(workspace, PEOPLE, TALKS)

    state = follow_up(workspace=str(workspace.root), return_state=True)
    assert state.is_completed(), state
    report = state.result()
    assert report.count("written") == 2
    assert recipients(workspace) == ["ann@example.com", "bob@example.com"]

    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    found = artifacts_of(flow_run_id)
    assert {"detect", "compose", "deliver"} <= found["tasks"]
    rows = table_of(found[artifact_key(workspace, "follow-up-emails")])
    assert {(r["to"], r["kind"], r["state"]) for r in rows} == {
        ("ann@example.com", "thank-you", "written"),
        ("bob@example.com", "intro", "written"),
        ("hal@example.com", "thank-you", "waiting"),
    }
    assert {r["reason"] for r in rows if r["state"] == "waiting"} == {"opted out"}
    assert "# Your networking funnel" in found[artifact_key(workspace, "funnel")].data
    cold = found[artifact_key(workspace, "going-cold")]
    assert cold.type == "markdown"
    assert "# Call these people" in cold.data
    assert "| Gus Roe | 614-555-0199 | gus@example.com | never |" in cold.data

    again = follow_up(workspace=str(workspace.root), return_state=True)
    assert again.result().outcomes == []  # the ledger, not Prefect, decides
    assert len(outbox(workspace)) == 2


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server", "today")
def test_the_follow_up_flow_dry_run_syncs_but_records_and_writes_nothing(
    workspace: Workspace,
) -> None:
    """dry_run: the store has the sheet's latest rows; the ledger and the outbox stay empty."""
    from breadcrumbs.flows.follow_up_flow import follow_up

    write_profile(workspace)
    write_sheet(workspace, PEOPLE, "date,contact,kind")
    sync(workspace)
    write_sheet(workspace, PEOPLE, TALKS)

    state = follow_up(workspace=str(workspace.root), dry_run=True, return_state=True)
    assert state.is_completed(), state
    assert sql(workspace, "SELECT count(*) FROM interactions") == [(2,)]
    assert ledger(workspace) == {}
    assert outbox(workspace) == []
    assert state.state_details.flow_run_id is not None
    found = artifacts_of(state.state_details.flow_run_id)
    rows = table_of(found[artifact_key(workspace, "follow-up-emails")])
    assert sorted(r["state"] for r in rows) == ["waiting", "would write", "would write"]


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server", "today")
def test_the_cli_runs_the_follow_up_as_a_flow_when_asked(workspace: Workspace) -> None:
    """`breadcrumbs follow-up --prefect` reports to the server and prints the same table."""
    from typer.testing import CliRunner

    from breadcrumbs.cli import app

    write_profile(workspace)
    write_sheet(workspace, PEOPLE, TALKS)
    sync(workspace)
    result = CliRunner().invoke(app, ["follow-up", "--prefect", "--workspace", str(workspace.root)])
    assert result.exit_code == 0, result.output
    assert "written" in result.output
    assert recipients(workspace) == ["ann@example.com", "bob@example.com"]
