"""The dates people write in spreadsheets, read one way (breadcrumbs/sources/dates.py)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from breadcrumbs.sources.dates import parse_date

NOV_3 = date(2026, 11, 3)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-11-03", NOV_3),
        ("2026-11-3", NOV_3),
        ("2026-11-03T14:30:00", NOV_3),
        ("2026-11-03 14:30", NOV_3),
        ("2026-11-03T14:30:00Z", NOV_3),
        ("2026-11-03T14:30:00+01:00", NOV_3),
        ("2026/11/03", NOV_3),
        ("3 Nov 2026", NOV_3),
        ("03 Nov 2026", NOV_3),  # LinkedIn's "Connected On"
        ("3 November 2026", NOV_3),
        ("3-Nov-2026", NOV_3),
        ("3rd Nov 2026", NOV_3),
        ("Nov 3, 2026", NOV_3),
        ("November 3rd, 2026", NOV_3),
        ("Sept 3, 2026", date(2026, 9, 3)),
        ("Tue, 3 Nov 2026", NOV_3),
        ("Tuesday November 3, 2026", NOV_3),
        ("03.11.2026", NOV_3),  # dotted dates are day first
        ("  2026-11-03  ", NOV_3),
        ("46329", NOV_3),  # an Excel serial that arrived as text
        (46329, NOV_3),  # an Excel serial number cell
        (46329.75, NOV_3),  # a serial with a time of day
        (datetime(2026, 11, 3, 9, 15), NOV_3),  # a real date cell from openpyxl
        (NOV_3, NOV_3),
    ],
)
def test_a_written_date_reads_as_that_day(cell: object, expected: date) -> None:
    """Each written form of a date people use reads as the same calendar day."""
    assert parse_date(cell) == expected


@pytest.mark.parametrize(
    ("cell", "slash_dates", "expected"),
    [
        ("11/03/2026", "month-first", date(2026, 11, 3)),
        ("11/03/2026", "day-first", date(2026, 3, 11)),
        ("3/11/2026", "month-first", date(2026, 3, 11)),
        ("3/11/2026", "day-first", date(2026, 11, 3)),
        ("11/3/26", "month-first", date(2026, 11, 3)),
        ("12/31/1985", "month-first", date(1985, 12, 31)),
        ("11/03/2026 2:30 PM", "month-first", date(2026, 11, 3)),
        ("2026-11-03", "day-first", NOV_3),  # ISO never depends on the setting
    ],
)
def test_a_slash_date_follows_the_workspace_setting(
    cell: str, slash_dates: str, expected: date
) -> None:
    """Slash dates are month first by default and day first when the workspace says so."""
    assert parse_date(cell, slash_dates) == expected


def test_slash_dates_are_month_first_by_default() -> None:
    """With no setting, 11/03/2026 is November 3 (the profile's documented default)."""
    assert parse_date("11/03/2026") == date(2026, 11, 3)


@pytest.mark.parametrize(
    "cell",
    [
        "soon",
        "",
        "   ",
        "31/31/2026",  # impossible either way round
        "13/13/2026",
        "2026-02-30",
        "2026-13-01",
        "30 Febtober 2026",
        "Nov 31, 2026",
        "0/0/00",  # Outlook's "no birthday"
        "1066-10-14",  # out of range
        "next Tuesday",
        "12345678",
        True,
        0,
        -5,
        10_000_000,
    ],
)
def test_an_unreadable_date_is_refused_with_a_reason(cell: object) -> None:
    """A cell that is not a date raises ValueError with a short reason, never a guess."""
    with pytest.raises(ValueError) as raised:
        parse_date(cell)
    assert str(raised.value)
