"""Today, as the whole program sees it.

`BREADCRUMBS_TODAY=YYYY-MM-DD` fixes the date for detection, the dates the store and the
ledger record, default months and the sample's dates, so tests and back-fills can play a job
search day by day. The time of day stays real, so records made on one played day still sort.
Otherwise today is the date where the user lives (`[me] timezone` in the profile, set when
the profile is loaded; `breadcrumbs init` writes the machine's zone there), not where the
machine runs: a job scheduled on a UTC server at 9 pm in New York must not think tomorrow
has come. An empty or missing setting, or no profile, means the machine's own zone.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from breadcrumbs.errors import BreadcrumbsError

ENV = "BREADCRUMBS_TODAY"
_zone: tzinfo | None = None


def use_timezone(name: str) -> None:
    """The user's IANA time zone ("America/New_York"); an unknown name is an error.

    An empty name is the machine's own zone, as when there is no profile at all.
    """
    global _zone
    if not name:
        machine = machine_timezone()
        _zone = ZoneInfo(machine) if machine else None
        return
    if name.upper() == "UTC":
        _zone = UTC
        return
    try:
        _zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BreadcrumbsError(
            f"[me] timezone = {name!r} is not a time zone: use a name such as "
            "America/New_York or Europe/Berlin"
        ) from None


def zone() -> tzinfo:
    """The zone the user's days are counted in."""
    return _zone if _zone is not None else datetime.now().astimezone().tzinfo or UTC


def machine_timezone(
    localtime: Path = Path("/etc/localtime"), timezone_file: Path = Path("/etc/timezone")
) -> str | None:
    """This machine's IANA zone name, or None if it cannot be told (stdlib only).

    TZ wins, as it does for the C library; then the /etc/localtime symlink into a zoneinfo
    tree (Linux, macOS); then Debian's /etc/timezone.
    """
    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    with contextlib.suppress(OSError):
        target = str(localtime.resolve()) if localtime.is_symlink() else ""
        candidates.append(target.rpartition("zoneinfo/")[2] if "zoneinfo/" in target else "")
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    for name in candidates:
        if _is_zone(name):
            return name
    return None


def _is_zone(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def today() -> date:
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return datetime.now(_zone).date() if _zone is not None else date.today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BreadcrumbsError(
            f"{ENV}={raw!r} is not a date: write it as YYYY-MM-DD, e.g. {ENV}=2026-11-03"
        ) from None


def now() -> datetime:
    """The current UTC timestamp, moved onto `today()` when the date is fixed."""
    real = datetime.now(UTC)
    fixed = today()
    if os.environ.get(ENV) and real.date() != fixed:
        return datetime.combine(fixed, real.timetz())
    return real


def local(moment: datetime) -> datetime:
    """A timestamp on the user's clock (`[me] timezone`; the machine's until a profile says)."""
    return moment.astimezone(_zone) if _zone is not None else moment.astimezone()


# local_day's last answer: (moment, zone, day).
_last_day: tuple[datetime, tzinfo, date] | None = None


def local_day(moment: datetime) -> date:
    """`local(moment).date()`, remembered for the last moment asked in a zone the profile
    named: a batch of ten thousand emails shares one planned_at (issue 11)."""
    global _last_day
    last, zone = _last_day, _zone
    if zone is None:
        return local(moment).date()
    if last is not None and last[1] is zone and last[0] == moment:
        return last[2]
    day = moment.astimezone(zone).date()
    _last_day = (moment, zone, day)
    return day
