"""Mail the user sent a contact counts as the conversation's thank-you only when it was sent
after the conversation, on the user's clock: a later day in their zone, or the same day after
the sheet's `time`, or without one after 17:00 (issue #8, 6). Mail is seeded in the fake
Gmail and read with the real client; the user lives in New York."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from breadcrumbs.sources.dates import parse_time
from tests.fake_google import FakeGoogle
from tests.follow_up_support import ME, sql, sync, write_sheet
from tests.google_support import accepted_per_recipient, serving, write_gmail_profile

NEW_YORK = ZoneInfo("America/New_York")
CONTACTS = """
    email,name
    cy@example.com,Cy Park
    di@example.com,Di Moss
    ed@example.com,Ed Wu
    fay@example.com,Fay Orr
    gus@example.com,Gus Hale
    hal@example.com,Hal Moss
"""
# All talked on November 24; Gus at 9 in the morning, Hal at 3 in the afternoon.
TALKS = """
    date,time,contact,kind
    2026-11-24,,cy@example.com,coffee
    2026-11-24,,di@example.com,call
    2026-11-24,,ed@example.com,call
    2026-11-24,,fay@example.com,call
    2026-11-24,9:00,gus@example.com,meeting
    2026-11-24,3pm,hal@example.com,meeting
"""


def new_york(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment on the user's clock, in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=NEW_YORK)


@pytest.fixture
def network(workspace: Workspace, today: str) -> Workspace:
    write_gmail_profile(workspace)
    text = workspace.profile_path.read_text(encoding="utf-8")
    workspace.profile_path.write_text(
        text.replace("[me]\n", '[me]\ntimezone = "America/New_York"\n', 1), encoding="utf-8"
    )
    write_sheet(workspace, CONTACTS, TALKS)
    sync(workspace)
    return workspace


@pytest.fixture
def fake(network: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    with serving(monkeypatch, network) as server:
        yield server


def sent_by_hand(fake: FakeGoogle, to: str, when: datetime, subject: str) -> None:
    fake.add_message(
        from_addr=f"{ME['name']} <{ME['email']}>", to_addr=to, subject=subject, when=when
    )


def test_only_mail_after_the_conversation_on_the_user_s_clock_thanks_it(
    network: Workspace, fake: FakeGoogle
) -> None:
    """Before the talk, or the evening before (already the 24th in UTC): the thank-you is
    still due. After 17:00 that day, the next morning, or past the sheet's time: it was
    the thank-you."""
    sent_by_hand(fake, "cy@example.com", new_york(24, 10), "See you at 3")
    sent_by_hand(fake, "di@example.com", new_york(23, 20), "Looking forward to tomorrow")
    sent_by_hand(fake, "ed@example.com", new_york(24, 18, 30), "Thanks for today")
    sent_by_hand(fake, "fay@example.com", new_york(25, 8), "Thanks for yesterday")
    sent_by_hand(fake, "gus@example.com", new_york(24, 11), "Thanks for this morning")
    sent_by_hand(fake, "hal@example.com", new_york(24, 14), "On my way")
    run_follow_up(network, mode="drafts")
    thanked = sorted(accepted_per_recipient(fake, "drafts.create"))
    assert thanked == ["cy@example.com", "di@example.com", "hal@example.com"]


def test_mail_is_dated_on_the_user_s_clock(network: Workspace, fake: FakeGoogle) -> None:
    """8 pm in New York on the 23rd is 01:00 UTC on the 24th: the touch is of the 23rd."""
    sent_by_hand(fake, "di@example.com", new_york(23, 20), "Looking forward to tomorrow")
    run_follow_up(network, mode="drafts")
    assert sql(network, "SELECT touched_on, touched_local FROM mailbox_touches") == [
        (date(2026, 11, 23), datetime(2026, 11, 23, 20, 0))
    ]
    assert new_york(23, 20).astimezone(UTC).date() == date(2026, 11, 24)


def test_an_unreadable_time_is_refused_and_the_conversation_kept(
    network: Workspace, fake: FakeGoogle
) -> None:
    """A time that cannot be read is listed with the reason; the talk is still thanked."""
    write_sheet(
        network, CONTACTS, "date,time,contact,kind\n2026-11-24,teatime,cy@example.com,tea\n"
    )
    report = sync(network)
    assert report.counts.interactions == 1
    assert sql(network, 'SELECT "column", value, severity FROM rejects') == [
        ("time", "teatime", "cell")
    ]


def test_a_touch_read_before_moments_were_kept_counts_from_the_next_day(
    network: Workspace,
) -> None:
    """A touch with only its day (read by an earlier release) thanks nothing on that day."""
    sql(
        network,
        "INSERT INTO mailbox_touches (provider_id, email, direction, touched_on, subject) "
        "VALUES ('m1:cy', 'cy@example.com', 'out', DATE '2026-11-24', 'See you at 3'), "
        "('m2:di', 'di@example.com', 'out', DATE '2026-11-25', 'Thanks')",
    )
    run_follow_up(network)
    thanked = {e for (e,) in sql(network, "SELECT email FROM messages")}
    assert "cy@example.com" in thanked and "di@example.com" not in thanked


@pytest.mark.parametrize(
    ("cell", "read"),
    [
        ("15:00", time(15)),
        ("9:05", time(9, 5)),
        ("3pm", time(15)),
        ("3:30 PM", time(15, 30)),
        ("12 a.m.", time(0)),
        ("12pm", time(12)),
        ("14.45", time(14, 45)),
        (0.625, time(15)),
        (datetime(2026, 11, 24, 15, 30), time(15, 30)),
    ],
)
def test_a_time_is_read_as_people_write_it(cell: object, read: time) -> None:
    """24-hour and 12-hour clocks, and Excel's fraction of a day."""
    assert parse_time(cell) == read


@pytest.mark.parametrize("cell", ["3", "25:00", "13pm", "teatime", "9:75"])
def test_a_cell_that_is_no_time_is_refused(cell: str) -> None:
    with pytest.raises(ValueError):
        parse_time(cell)
