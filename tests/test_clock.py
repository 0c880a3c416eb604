"""Today is the user's today: BREADCRUMBS_TODAY when set, else the date in their time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from breadcrumbs import clock
from breadcrumbs.errors import BreadcrumbsError, ProfileError
from breadcrumbs.profile import load_profile


@pytest.fixture(autouse=True)
def _reset_zone() -> Iterator[None]:
    yield
    clock.use_timezone("UTC")


def test_breadcrumbs_today_fixes_the_date_whatever_the_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A played day is the day, in every zone."""
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-03")
    clock.use_timezone("Pacific/Kiritimati")
    assert clock.today() == date(2026, 11, 3)
    assert clock.now().date() == date(2026, 11, 3)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles", "UTC"])
def test_without_a_played_day_today_is_the_date_in_the_users_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The profile's zone decides the date, not the machine's."""
    monkeypatch.delenv("BREADCRUMBS_TODAY", raising=False)
    clock.use_timezone(zone)
    assert clock.today() in {datetime.now(ZoneInfo(zone)).date()}


def test_an_unknown_time_zone_in_the_profile_is_named_in_the_error(tmp_path: Path) -> None:
    """A typo in [me] timezone stops with the file and the value."""
    path = tmp_path / "profile.toml"
    path.write_text('[me]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="Mars/Olympus"):
        load_profile(path)


def test_a_malformed_played_day_says_how_to_write_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """BREADCRUMBS_TODAY=25/11/2026 is refused with the expected form."""
    monkeypatch.setenv("BREADCRUMBS_TODAY", "25/11/2026")
    with pytest.raises(BreadcrumbsError, match="YYYY-MM-DD"):
        clock.today()
