"""prefect.yaml is checked against a real Prefect server: every deployment registers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the test harness should have set PREFECT_API_URL"
    return str(url)


@pytest.fixture(scope="module")
def deployed(prefect_server: None) -> None:
    """`prefect deploy --all` from the checkout, once for this module's tests."""
    env = {**os.environ, "PREFECT_API_URL": _api_url(), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    prefect = str(Path(sys.executable).parent / "prefect")
    created = subprocess.run(
        [prefect, "--no-prompt", "work-pool", "create", "breadcrumbs", "--type", "process"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = subprocess.run(
        [prefect, "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr


@pytest.mark.prefect
@pytest.mark.usefixtures("deployed")
def test_every_deployment_in_prefect_yaml_registers_on_a_real_server() -> None:
    """`prefect deploy --all` from the checkout creates each deployment, as the file says."""
    from prefect.client.orchestration import get_client

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    wanted = {d["name"]: d for d in spec["deployments"]}
    with get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments()}
    assert set(wanted) <= set(deployments)
    for name, entry in wanted.items():
        deployment = deployments[name]
        assert deployment.entrypoint == entry["entrypoint"]
        assert deployment.work_pool_name == "breadcrumbs"
        assert deployment.parameters == entry.get("parameters", {})
        # No parameter may carry a secret: the token stays in the workspace or a Secret block.
        assert not any("token" in key.lower() for key in deployment.parameters)
    follow_up = deployments["follow-up"]
    assert [s.active for s in follow_up.schedules] == [False]


@pytest.mark.prefect
@pytest.mark.usefixtures("deployed")
def test_the_monthly_digest_runs_every_weekday_at_nine_in_the_files_zone() -> None:
    """The server schedules its next runs from the registered cron: each on a weekday at
    09:00 in prefect.yaml's zone, across a weekend and a daylight-saving change."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.schedules import CronSchedule

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    (entry,) = [d for d in spec["deployments"] if d["name"] == "monthly-digest"]
    (wanted,) = entry["schedules"]
    zone = ZoneInfo(wanted["timezone"])
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("monthly-digest/monthly-digest")
        (schedule,) = deployment.schedules
        assert schedule.active
        assert isinstance(schedule.schedule, CronSchedule)
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (
            "0 9 * * 1-5",
            wanted["timezone"],
        )
        assert deployment.parameters == {"mode": "outbox", "dry_run": False}
        # Ask the server for the runs after Friday, October 30, 2026 (US clocks go back
        # on November 1), and read them back.
        start = datetime(2026, 10, 30, tzinfo=UTC)
        answer = client._client.post(
            f"/deployments/{deployment.id}/schedule",
            json={"start_time": start.isoformat(), "min_runs": 8, "max_runs": 8},
        )
        answer.raise_for_status()
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        )
    expected = [r.expected_start_time for r in runs]
    times = sorted(t.astimezone(zone) for t in expected if t is not None and t >= start)
    assert len(times) >= 8
    assert all(t.weekday() < 5 and (t.hour, t.minute) == (9, 0) for t in times), times
    assert [t.day for t in times[:4]] == [30, 2, 3, 4]  # Friday, then Monday to Wednesday
