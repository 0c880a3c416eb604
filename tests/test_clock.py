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


def test_the_local_day_of_a_moment_follows_the_zone_it_is_asked_in() -> None:
    """clock.local_day is local(moment).date(), though it remembers its last answer (issue
    11: a batch shares one planned_at): asked again after the zone changed, or for a moment
    an hour apart, it answers afresh."""
    from datetime import UTC, timedelta

    moment = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)  # 22:30 the day before in New York
    days = []
    for zone in ("UTC", "America/New_York", "America/New_York", "Asia/Tokyo", "UTC"):
        clock.use_timezone(zone)
        for at in (moment, moment - timedelta(hours=4), moment.replace(tzinfo=None), moment):
            assert clock.local_day(at) == clock.local(at).date()
            days.append(clock.local_day(at))
    assert days[:2] == [date(2026, 11, 25), date(2026, 11, 24)] and days[3] == days[0]
    assert days[4:6] == [date(2026, 11, 24), date(2026, 11, 24)]  # New York
