"""`breadcrumbs serve`: what it registers, that it runs what it serves, and how it stops."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from breadcrumbs.serve import SCHEDULES, STOP_MESSAGE, plan
from breadcrumbs.settings import Workspace
from breadcrumbs.workspace import init_workspace
from tests.follow_up_support import recipients, sync, write_profile, write_sheet
from tests.prefect_stack import BIN, ROOT, base_env, process, wait_for_run, wait_until

PEOPLE = """
    email,name
    ann@example.com,Ann Lee
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-11-24,ann@example.com,coffee,dbt at Acme,,
"""


def client_workspace(root: Path, name: str, timezone: str) -> Workspace:
    ws = Workspace(root / name)
    init_workspace(ws)
    write_profile(ws)
    text = ws.profile_path.read_text(encoding="utf-8")
    ws.profile_path.write_text(
        text.replace("[me]\n", f'[me]\ntimezone = "{timezone}"\n'), encoding="utf-8"
    )
    return ws


def test_serve_plans_every_flow_per_workspace_in_its_own_time_zone(tmp_path: Path) -> None:
    """One deployment per flow and workspace, named apart from prefect.yaml's and from each
    other's, each given its workspace; schedules in each profile's [me] timezone."""
    ann = client_workspace(tmp_path, "ann", "America/Chicago")
    bea = client_workspace(tmp_path, "bea", "Europe/Paris")
    bea.token_path.write_text("{}", encoding="utf-8")  # bea has connected Gmail

    served = plan([ann, bea])

    assert {(s.flow, s.workspace.root.name) for s in served} == {
        (flow, who) for flow in SCHEDULES for who in ("ann", "bea")
    }
    assert all(s.parameters["workspace"] == str(s.workspace.root) for s in served)
    yaml_names = {
        d["name"]
        for d in yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    }
    names = {(s.flow, s.name) for s in served}
    assert len(names) == len(served), "two workspaces never share a deployment"
    assert not {s.name for s in served} & yaml_names
    when = {(s.flow, s.workspace.root.name): (s.cron, s.timezone) for s in served}
    assert when["follow-up", "ann"] == ("0 9 * * *", "America/Chicago")
    assert when["follow-up", "bea"] == ("0 9 * * *", "Europe/Paris")
    assert when["monthly-digest", "ann"] == ("15 9 * * 1-5", "America/Chicago")
    # Reading the mailbox needs a token: without one it is served on demand only.
    assert when["mailbox-touches", "ann"][0] is None
    assert when["mailbox-touches", "bea"][0] == "30 8 * * *"


def test_serve_schedules_a_profile_without_a_timezone_in_the_machines_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty [me] timezone is the machine's zone (TZ here), never a blank or UTC."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    ws = client_workspace(tmp_path, "ann", "")
    assert {s.timezone for s in plan([ws])} == {"Asia/Tokyo"}


def test_serve_without_a_prefect_server_says_how_to_start_one(tmp_path: Path) -> None:
    """Prefect's temporary server runs no scheduler: serving against it would never run."""
    ws = client_workspace(tmp_path, "ann", "UTC")
    done = subprocess.run(
        [str(BIN / "breadcrumbs"), "serve", "--workspace", str(ws.root)],
        env=base_env(tmp_path / "prefect"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "prefect server start" in done.stderr and "PREFECT_API_URL" in done.stderr


@pytest.mark.prefect
def test_serve_runs_its_deployments_pauses_them_on_sigterm_and_resumes_them_on_restart(
    prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The served follow-up, run from the API, writes that workspace's outbox in the serve
    process; SIGTERM stops it cleanly, saying so, with the schedules paused on the server;
    serving again resumes them."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from breadcrumbs.serve import served_name

    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    ws = client_workspace(tmp_path, "ann", "America/Chicago")
    write_sheet(ws, PEOPLE, TALKS)
    sync(ws)
    env = base_env(
        tmp_path / "prefect",
        {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "BREADCRUMBS_TODAY": "2026-11-25"},
    )
    log = tmp_path / "serve.log"
    args = [str(BIN / "breadcrumbs"), "serve", "--workspace", str(ws.root)]
    with process(args, env, log) as proc, get_client(sync_client=True) as client:

        def served() -> Any:
            assert proc.poll() is None, log.read_text()
            try:
                return client.read_deployment_by_name(f"follow-up/{served_name(ws)}")
            except Exception:
                return None

        deployment = wait_until(served, 120, "serve to register its deployments", every=1)
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (
            "0 9 * * *",
            "America/Chicago",
        )
        assert schedule.active and not deployment.paused

        created = client.create_flow_run_from_deployment(deployment.id)
        run = wait_for_run(client, created.id)
        assert run.state.is_completed(), log.read_text()
        assert run.name == "follow-up · ann"
        assert recipients(ws) == ["ann@example.com"]

        proc.send_signal(signal.SIGTERM)  # the process alone, as systemd or kill would
        assert proc.wait(90) == 0, log.read_text()
        assert STOP_MESSAGE in " ".join(log.read_text().split())
        assert client.read_deployment(deployment.id).paused

    # Serving again resumes what the stop paused, as the stop message promises.
    with process(args, env, log) as again, get_client(sync_client=True) as client:

        def resumed() -> bool:
            assert again.poll() is None, log.read_text()
            return not client.read_deployment(deployment.id).paused

        wait_until(resumed, 120, "serve to resume the schedules", every=1)
