"""The real thing, end to end: a Prefect server of its own on a free loopback port, the
deployments of prefect.yaml made with `prefect deploy --all`, a `process` work pool and a
real `prefect worker start`. Runs are created through the client, or come due on a
schedule, and what they leave is checked: outbox files, ledger rows, artifacts read back
through the API, the runs section of `breadcrumbs status`, and the failure automation.

One server for the module (starting one costs 20-30 s here); loop intervals are tuned
down in tests/prefect_stack.py so a scheduled run is made and picked up within seconds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
from breadcrumbs.flows.artifacts import artifact_key

from breadcrumbs.settings import Workspace
from breadcrumbs.workspace import init_workspace
from tests.follow_up_support import ledger, recipients, sync, write_profile, write_sheet
from tests.prefect_stack import prefect, prefect_server, wait_for_run, wait_until, worker

TODAY = "2026-11-25"
PEOPLE = """
    email,name
    ann@example.com,Ann Lee
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-11-24,ann@example.com,coffee,dbt at Acme,,Bob Stone <bob@example.com>
"""
# For the monthly update: two people last talked with weeks ago, one yesterday (quiet).
MONTH_PEOPLE = """
    email,name
    ann@example.com,Ann Lee
    bob@example.com,Bob Stone
    cy@example.com,Cy Park
"""
MONTH_TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-10-01,ann@example.com,coffee,dbt at Acme,,
    2026-10-05,bob@example.com,call,,,
    2026-11-24,cy@example.com,call,,,
"""


class Stack:
    """The server's env (PREFECT_API_URL...), and where the module keeps its files."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env = env
        self.root = root

    @property
    def api(self) -> str:
        return self.env["PREFECT_API_URL"]

    def workspace(
        self, name: str, monkeypatch: pytest.MonkeyPatch, people: str = PEOPLE, talks: str = TALKS
    ) -> Workspace:
        """A workspace whose sheet has one conversation yesterday (two emails due), unless
        told otherwise."""
        monkeypatch.setenv("BREADCRUMBS_TODAY", TODAY)
        ws = Workspace(self.root / name)
        init_workspace(ws)
        write_profile(ws)
        write_sheet(ws, people, talks)
        sync(ws)  # remembers the source: the deployed run's own sync needs no argument
        return ws


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Server, pool, `prefect deploy --all`, and one worker, all stopped at the end."""
    root = tmp_path_factory.mktemp("service")
    with prefect_server(root / "prefect") as env:
        prefect(env, "work-pool", "create", "breadcrumbs", "--type", "process")
        prefect(env, "deploy", "--all")
        # The worker's flow runs inherit its env: the played day, and a default workspace in
        # the test's folder, so a run that names none (a schedule from prefect.yaml coming
        # due) never touches the checkout's data/.
        worker_env = {**env, "BREADCRUMBS_TODAY": TODAY, "BREADCRUMBS_HOME": str(root / "default")}
        with worker(worker_env, "breadcrumbs", root / "worker.log", name="this-machine"):
            yield Stack(env, root)


@pytest.fixture
def client(stack: Stack) -> Iterator[Any]:
    """A Prefect client of this test's process, pointed at the module's server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: stack.api}),
        get_client(sync_client=True) as c,
    ):
        yield c


def artifacts(client: Any, flow_run_id: UUID) -> dict[str, Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    found = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )
    return {a.key: a for a in found if a.key}


def rows_of(artifact: Any) -> list[dict[str, Any]]:
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(data, list)
    return data


@pytest.mark.prefect
def test_a_worker_runs_a_deployed_follow_up_created_through_the_client(
    stack: Stack, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is named after its workspace, writes the outbox once, records the ledger, and
    leaves that workspace's artifacts; `breadcrumbs status` then lists it as Completed."""
    from typer.testing import CliRunner

    from breadcrumbs.cli import app

    ws = stack.workspace("ann", monkeypatch)
    deployment = client.read_deployment_by_name("follow-up/follow-up")
    created = client.create_flow_run_from_deployment(
        deployment.id, parameters={"workspace": str(ws.root)}
    )
    run = wait_for_run(client, created.id)
    assert run.state.is_completed(), run.state
    assert run.name == "follow-up · ann"

    assert recipients(ws) == ["ann@example.com", "bob@example.com"]
    assert sorted(ledger(ws).values()) == ["written", "written"]
    found = artifacts(client, run.id)
    emails = rows_of(found[artifact_key(ws, "follow-up-emails")])
    assert {(r["to"], r["state"]) for r in emails} == {
        ("ann@example.com", "written"),
        ("bob@example.com", "written"),
    }
    assert {artifact_key(ws, "going-cold"), artifact_key(ws, "funnel")} <= set(found)
    # The sync ran as a subflow of this run, with its rejects under this workspace's key.
    subflows = [r for r in client.read_flow_runs() if r.parent_task_run_id is not None]
    assert any(r.name == "sync-contacts · ann" for r in subflows)

    monkeypatch.setenv("PREFECT_API_URL", stack.api)
    status = CliRunner().invoke(app, ["status", "--workspace", str(ws.root)])
    assert status.exit_code == 0, status.output
    assert "Prefect runs" in status.output
    line = next(x for x in status.output.splitlines() if "follow-up · ann" in x)
    assert "follow-up/follow-up" in line and "Completed" in line


@pytest.mark.prefect
def test_a_worker_runs_a_deployed_monthly_digest_created_through_the_client(
    stack: Stack, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The month's update goes to the two people not talked with lately, once each; its
    summary, recipients and funnel are read back from the server under this workspace."""
    ws = stack.workspace("dee", monkeypatch, MONTH_PEOPLE, MONTH_TALKS)
    deployment = client.read_deployment_by_name("monthly-digest/monthly-digest")
    created = client.create_flow_run_from_deployment(
        deployment.id, parameters={"workspace": str(ws.root)}
    )
    run = wait_for_run(client, created.id)
    assert run.state.is_completed(), run.state
    assert run.name == "monthly-digest · dee"

    assert recipients(ws) == ["ann@example.com", "bob@example.com"]
    rows_in_ledger = ledger(ws)
    assert sorted(rows_in_ledger.values()) == ["written", "written"]
    assert all(k.startswith("monthly:") and k.endswith(":2026-11") for k in rows_in_ledger)
    found = artifacts(client, run.id)
    assert "# Monthly update, 2026-11" in found[artifact_key(ws, "monthly-digest-summary")].data
    rows = rows_of(found[artifact_key(ws, "monthly-digest-recipients")])
    assert {(r["to"], r["state"]) for r in rows} == {
        ("ann@example.com", "written"),
        ("bob@example.com", "written"),
        ("cy@example.com", "waiting"),
    }
    assert "**2** monthly updates delivered this month" in found[artifact_key(ws, "funnel")].data


@pytest.mark.prefect
def test_a_deployment_whose_schedule_comes_due_is_run_by_the_worker(
    stack: Stack, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A schedule starting 15 s from now: the server's scheduler makes the run, the worker
    picks it up when due, and the workspace named in the deployment gets its emails."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import IntervalSchedule

    ws = stack.workspace("bea", monkeypatch)
    deployed = client.read_deployment_by_name("follow-up/follow-up")
    due_at = datetime.now(UTC) + timedelta(seconds=15)
    deployment_id = client.create_deployment(
        flow_id=deployed.flow_id,
        name="bea-daily",
        work_pool_name="breadcrumbs",
        entrypoint=deployed.entrypoint,
        path=deployed.path,
        pull_steps=deployed.pull_steps,
        parameters={"workspace": str(ws.root)},
        tags=["breadcrumbs"],
        schedules=[
            DeploymentScheduleCreate(
                schedule=IntervalSchedule(interval=timedelta(days=1), anchor_date=due_at),
                active=True,
            )
        ],
    )

    def first_run() -> Any:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId

        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id])
            )
        )
        return next((r for r in runs if r.state and r.state.type.value != "SCHEDULED"), None)

    started = wait_until(first_run, 120, "the scheduled run to start", every=1)
    run = wait_for_run(client, started.id)
    assert run.state.is_completed(), run.state
    assert run.auto_scheduled, "made by the server's scheduler, not by the test"
    assert run.start_time >= due_at - timedelta(seconds=1)
    assert recipients(ws) == ["ann@example.com", "bob@example.com"]


class Hook(BaseHTTPRequestHandler):
    """A notification endpoint on 127.0.0.1 that keeps what it is sent."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        Hook.received.append(json.loads(self.rfile.read(length) or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.mark.prefect
def test_the_failure_automation_notifies_when_a_breadcrumbs_run_fails(
    stack: Stack, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alert_on_failure creates the automation through the API; a run whose profile is
    broken fails, and the notification block is called with the run's name."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from breadcrumbs.watch import alert_on_failure

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        with temporary_settings(updates={PREFECT_API_URL: stack.api}):
            CustomWebhookNotificationBlock(
                name="phone",
                url=f"http://127.0.0.1:{hook.server_address[1]}/notify",
                json_data={"subject": "{{subject}}", "body": "{{body}}"},
                allow_private_urls=True,  # the test's endpoint is on loopback
            ).save("phone", overwrite=True)
            alert_on_failure("custom-webhook/phone")

        broken = Workspace(stack.root / "cat")
        init_workspace(broken)
        broken.profile_path.write_text("[me\n", encoding="utf-8")
        deployment = client.read_deployment_by_name("follow-up/follow-up")
        created = client.create_flow_run_from_deployment(
            deployment.id, parameters={"workspace": str(broken.root)}
        )
        run = wait_for_run(client, created.id)
        assert run.state.is_failed(), run.state

        wait_until(lambda: Hook.received, 90, "the automation's notification", every=1)
        (sent,) = Hook.received
        assert "follow-up · cat" in sent["subject"]
        assert "Failed" in sent["subject"]
        assert "profile.toml" in sent["body"]
    finally:
        hook.shutdown()
