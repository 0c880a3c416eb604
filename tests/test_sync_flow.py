"""The Prefect flow `sync-contacts`, run for real against the session's test server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from breadcrumbs.settings import Workspace
from tests.test_store import rows, write_network


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_the_sync_contacts_flow_loads_the_sheet_and_publishes_a_rejects_table(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Tasks read, validate and load run; the rejects become a table artifact of the run."""
    from breadcrumbs.flows.artifacts import artifact_key
    from breadcrumbs.flows.sync_flow import sync_contacts
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    source = str(write_network(tmp_path / "sheet"))
    state = sync_contacts(workspace=str(workspace.root), source=source, return_state=True)
    assert state.is_completed(), state
    report = state.result()
    assert (report.counts.contacts, report.counts.rejected) == (5, 3)
    assert rows(workspace, "SELECT count(*) FROM interactions") == [(2,)]

    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs()
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[artifact_key(workspace, "sync-rejects")]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            )
        )
    ran = {t.name.rsplit("-", 1)[0] for t in task_runs if t.flow_run_id == flow_run_id}
    assert ran == {"read", "validate", "load"}
    (artifact,) = artifacts
    assert artifact.type == "table"
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(table, list)
    refused = {(r["file"], r["row"], r["column"], r["severity"]) for r in table}
    assert ("contacts.csv", 4, "email", "cell") in refused
    assert ("interactions.csv", 4, "contact", "row") in refused
    assert ("interactions.csv", 5, "date", "row") in refused
