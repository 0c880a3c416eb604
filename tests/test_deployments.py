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


@pytest.mark.prefect
def test_every_deployment_in_prefect_yaml_registers_on_a_real_server(
    prefect_server: None,
) -> None:
    """`prefect deploy --all` from the checkout creates each deployment, as the file says."""
    from prefect.client.orchestration import get_client

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
