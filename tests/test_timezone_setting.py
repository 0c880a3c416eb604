"""The user's days are counted in their own zone: `breadcrumbs init` writes the machine's
zone into the profile, and a profile without one takes the machine's, never UTC (issue #8, 9).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breadcrumbs import clock
from breadcrumbs.cli import app
from breadcrumbs.profile import load_profile
from breadcrumbs.settings import Workspace
from breadcrumbs.workspace import install_sample

# 8 pm in New York on November 25 is already November 26 in UTC.
EVENING_IN_NEW_YORK = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _reset_zone() -> Iterator[None]:
    yield
    clock.use_timezone("UTC")


@pytest.fixture
def in_new_york(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine whose zone is New York (TZ wins over /etc/localtime, as in the C library)."""
    monkeypatch.setenv("TZ", "America/New_York")


def test_init_writes_the_machine_s_zone_into_the_profile(in_new_york: None, tmp_path: Path) -> None:
    """The new profile names the zone, and init says which one it wrote."""
    result = CliRunner().invoke(app, ["init", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert "time zone: America/New_York" in result.stdout
    profile = load_profile(tmp_path / "ws" / "profile.toml")
    assert profile.me.timezone == "America/New_York"
    assert EVENING_IN_NEW_YORK.astimezone(clock.zone()).date() == date(2026, 11, 25)


def test_a_profile_without_a_zone_counts_days_in_the_machine_s_zone(
    in_new_york: None, tmp_path: Path
) -> None:
    """No `[me] timezone`: 8 pm in New York is still the 25th, as with no profile at all."""
    path = tmp_path / "profile.toml"
    path.write_text('[me]\nname = "Jordan Rivera"\n', encoding="utf-8")
    load_profile(path)
    assert EVENING_IN_NEW_YORK.astimezone(clock.zone()).date() == date(2026, 11, 25)


def test_an_explicit_utc_stays_utc(in_new_york: None, tmp_path: Path) -> None:
    """A server that should count in UTC says so, and is obeyed."""
    path = tmp_path / "profile.toml"
    path.write_text('[me]\ntimezone = "UTC"\n', encoding="utf-8")
    load_profile(path)
    assert EVENING_IN_NEW_YORK.astimezone(clock.zone()).date() == date(2026, 11, 26)


def test_the_machine_s_zone_is_read_from_the_localtime_link(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without TZ, /etc/localtime's link into a zoneinfo tree names the zone."""
    monkeypatch.delenv("TZ", raising=False)
    target = tmp_path / "usr/share/zoneinfo/Europe/Berlin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"TZif")
    link = tmp_path / "localtime"
    link.symlink_to(target)
    assert clock.machine_timezone(link, tmp_path / "none") == "Europe/Berlin"
    (tmp_path / "timezone").write_text("Asia/Kolkata\n", encoding="utf-8")
    assert clock.machine_timezone(tmp_path / "none", tmp_path / "timezone") == "Asia/Kolkata"
    assert clock.machine_timezone(tmp_path / "none", tmp_path / "none") is None


def test_the_demo_still_replaces_a_profile_fresh_from_init(
    in_new_york: None, workspace: Workspace
) -> None:
    """The sample's profile takes the place of one init wrote and nobody edited."""
    install_sample(workspace)
    assert load_profile(workspace.profile_path).me.name != ""
