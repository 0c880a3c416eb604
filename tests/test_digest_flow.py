"""The Prefect flow `monthly-digest`, run for real against the session's test server: the
same stages as `breadcrumbs digest`, and the artifacts a person reads in the UI, each keyed
by its workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from breadcrumbs.settings import Workspace
from tests.follow_up_support import recipients, sync, write_profile, write_sheet
from tests.test_follow_up_flow import artifacts_of, table_of

PEOPLE = """
    email,name
    ann@example.com,Ann Lee
    bob@example.com,Bob Stone
    cy@example.com,Cy Park
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-10-01,ann@example.com,coffee,dbt at Acme,,
    2026-10-05,bob@example.com,call,,,
    2026-11-25,cy@example.com,call,,,
"""


def test_artifact_keys_name_their_workspace_in_the_letters_prefect_allows() -> None:
    """Two workspaces called `data` get different keys; an accented name folds to a-z."""
    from breadcrumbs.flows.artifacts import artifact_key

    one = artifact_key(Workspace(Path("/home/ann/data")), "funnel")
    two = artifact_key(Workspace(Path("/home/bob/data")), "funnel")
    assert one != two and one.startswith("funnel-data-") and two.startswith("funnel-data-")
    odd = artifact_key(Workspace(Path("/srv/Zoë's Search (2026)")), "sync-rejects")
    assert odd.startswith("sync-rejects-zoe-s-search-2026-")
    assert all(c.isdigit() or c == "-" or "a" <= c <= "z" for c in odd + one)
    assert artifact_key(Workspace(Path("/ünï")), "x").startswith("x-uni-")
    assert artifact_key(Workspace(Path("/日本")), "x").startswith("x-workspace-")


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_the_monthly_digest_flow_delivers_and_publishes_summary_table_progress_and_funnel(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sync, detect, compose, deliver run as tasks; the summary, the recipients table, a
    progress artifact at 100% and the funnel are read back from the server."""
    from breadcrumbs.flows.artifacts import artifact_key
    from breadcrumbs.flows.digest_flow import monthly_digest

    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-01")
    write_profile(workspace)
    write_sheet(workspace, PEOPLE, "date,contact,kind")
    sync(workspace)  # remembers the source; the flow's own sync then sees the conversations
    write_sheet(workspace, PEOPLE, TALKS)

    state = monthly_digest(workspace=str(workspace.root), return_state=True)
    assert state.is_completed(), state
    report = state.result()
    assert report.first_run and report.count("written") == 2
    assert recipients(workspace) == ["ann@example.com", "bob@example.com"]

    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    found = artifacts_of(flow_run_id)
    assert {"detect", "compose", "deliver"} <= found["tasks"]
    summary = found[artifact_key(workspace, "monthly-digest-summary")]
    assert summary.type == "markdown"
    assert "# Monthly update, 2026-12" in summary.data
    assert "2 people on the list (decided by this run)" in summary.data
    assert "## What every update says" in summary.data
    rows = table_of(found[artifact_key(workspace, "monthly-digest-recipients")])
    assert {(r["to"], r["state"]) for r in rows} == {
        ("ann@example.com", "written"),
        ("bob@example.com", "written"),
        ("cy@example.com", "waiting"),
    }
    progress = found[artifact_key(workspace, "monthly-digest-progress")]
    assert progress.type == "progress" and float(progress.data) == 100.0
    funnel = found[artifact_key(workspace, "funnel")]
    assert "# Your networking funnel, 2026-12" in funnel.data
    assert "**2** monthly updates delivered this month" in funnel.data

    again = monthly_digest(workspace=str(workspace.root), return_state=True)
    assert again.result().outcomes == []
    assert again.state_details.flow_run_id is not None
    second = artifacts_of(again.state_details.flow_run_id)
    assert (
        "nothing left to deliver" in second[artifact_key(workspace, "monthly-digest-summary")].data
    )
    assert len(recipients(workspace)) == 2


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_the_cli_runs_the_digest_as_a_flow_when_asked(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`breadcrumbs digest --prefect --dry-run` reports to the server and lists who would
    get this month's update; nothing is recorded."""
    from typer.testing import CliRunner

    from breadcrumbs.cli import app
    from tests.follow_up_support import ledger

    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-01")
    write_profile(workspace)
    write_sheet(workspace, PEOPLE, TALKS)
    sync(workspace)
    result = CliRunner().invoke(
        app,
        ["digest", "--prefect", "--dry-run", "--workspace", str(workspace.root)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("would send") == 2
    assert "In the quiet period, so no update this month (1): Cy Park" in result.output
    assert ledger(workspace) == {}
