"""Reading the dates people write in spreadsheets.

ISO `2026-11-03` always reads the same. Slash dates are ambiguous (11/03/2026), so they follow
the workspace's `[source] slash_dates` setting (month first by default); dotted dates
(03.11.2026) are day first, as everywhere they are used. Excel stores dates as serial numbers
counted from 1899-12-30 (the 1900 leap-year bug folded in).
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime, time, timedelta

_EXCEL_EPOCH = date(1899, 12, 30)
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_YMD_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_SLASH = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?$"
)
_DOTS = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[\s-]+([A-Za-z]+)\.?,?[\s-]+(\d{4})$")
_MONTH_DAY = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_TIME = re.compile(
    r"^(\d{1,2})(?:[:.h](\d{2}))?(?::(\d{2}))?\s*(?:([ap])\.?\s?m\.?)?$", re.IGNORECASE
)
_WEEKDAY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", re.IGNORECASE)


def parse_date(value: object, slash_dates: str = "month-first") -> date:
    """A date from a cell; ValueError with a short reason when it cannot be read."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise ValueError("not a date")
    if isinstance(value, int | float):
        return _from_serial(float(value))
    text = str(value).strip()
    if len(text) == 10 and text[4] == "-":
        # The common case, in C: 2026-11-03. Anything odd falls through to the patterns.
        with contextlib.suppress(ValueError):
            return _check_year(date.fromisoformat(text))
    text = _WEEKDAY.sub("", text)
    if not text:
        raise ValueError("empty date")
    if m := _ISO.match(text) or _YMD_SLASH.match(text):
        return _make(int(m[1]), int(m[2]), int(m[3]))
    if m := _SLASH.match(text):
        first, second, year = int(m[1]), int(m[2]), int(m[3])
        if year < 100:
            year += 2000
        if slash_dates == "day-first":
            return _make(year, second, first)
        return _make(year, first, second)
    if m := _DOTS.match(text):
        return _make(int(m[3]), int(m[2]), int(m[1]))
    if m := _DAY_MONTH.match(text):
        return _make(int(m[3]), _month(m[2]), int(m[1]))
    if m := _MONTH_DAY.match(text):
        return _make(int(m[3]), _month(m[1]), int(m[2]))
    if re.fullmatch(r"\d{5}(\.\d+)?", text):  # a serial number that arrived as text
        return _from_serial(float(text))
    raise ValueError("not a date Breadcrumbs can read; write it as YYYY-MM-DD")


def _check_year(day: date) -> date:
    if not 1900 <= day.year <= 2200:
        raise ValueError(f"year {day.year} is out of range")
    return day


def _month(name: str) -> int:
    try:
        return _MONTHS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown month {name!r}") from None


def _make(year: int, month: int, day: int) -> date:
    if not 1900 <= year <= 2200:
        raise ValueError(f"year {year} is out of range")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"no such date (year {year}, month {month}, day {day})") from None


def _from_serial(serial: float) -> date:
    # 1 = 1900-01-01 ... 73051 = 2099-12-31: anything else is a number, not a date.
    if not 1 <= serial < 120000:
        raise ValueError("a number, not a date")
    return _EXCEL_EPOCH + timedelta(days=int(serial))


def parse_time(value: object) -> time:
    """A time of day from a cell ("15:00", "3pm", "3:30 PM", an Excel time); ValueError else."""
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    if isinstance(value, float) and 0 <= value < 1:  # Excel keeps a time as a day's fraction
        minutes = round(value * 24 * 60)
        return time(minutes // 60 % 24, minutes % 60)
    m = _TIME.match(str(value).strip())
    if not m or (m[2] is None and m[4] is None):  # a bare "3" could be anything
        raise ValueError("not a time of day; write it as 15:00 or 3pm")
    hour, minute, second = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if m[4]:
        if not 1 <= hour <= 12:
            raise ValueError(f"{hour} is not an hour on a 12-hour clock")
        hour = hour % 12 + (12 if m[4].lower() == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("no such time of day")
    return time(hour, minute, second)
