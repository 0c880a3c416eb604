"""`breadcrumbs profile check` holds prefect.yaml's schedules to the profile's time zone,
the one truth for time (breadcrumbs/schedule.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.settings import SAMPLE_DIR, Workspace

DEPLOYMENTS = """
deployments:
  - name: monthly-digest
    schedules:
      - cron: "0 9 * * 1-5"
        timezone: {zone}
  - name: sync-contacts
"""


@pytest.mark.parametrize(
    ("zone", "warns"), [("America/New_York", False), ("Europe/Berlin", True)], ids=["same", "other"]
)
def test_profile_check_warns_when_a_schedule_runs_in_another_zone(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zone: str, warns: bool
) -> None:
    """The sample profile lives in New York: a schedule on Berlin time is named, with the fix."""
    shutil.copyfile(SAMPLE_DIR / "profile.toml", workspace.profile_path)
    (tmp_path / "prefect.yaml").write_text(DEPLOYMENTS.format(zone=zone), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["profile", "check", "--workspace", str(workspace.root)])
    assert result.exit_code == 0, result.output
    if warns:
        assert "warning:" in result.output
        assert "'monthly-digest' runs on Europe/Berlin time" in result.output
        assert "put timezone: America/New_York in its schedule" in result.output
    else:
        assert "warning" not in result.output


def test_the_checkouts_prefect_yaml_runs_in_the_sample_profiles_zone() -> None:
    from breadcrumbs.schedule import zone_mismatches
    from breadcrumbs.settings import CHECKOUT

    assert CHECKOUT is not None
    assert zone_mismatches("America/New_York", CHECKOUT / "prefect.yaml") == []
