"""Touches from the mailbox (google/mailbox.py) through the follow-up batch: replies, mail
the user sent by hand and bounces, seeded in the fake Gmail and read with the real client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.google.mailbox import run_mailbox_touches
from breadcrumbs.settings import Workspace
from tests.fake_google import FakeGoogle
from tests.follow_up_support import ME, ledger, sql, states, sync, waiting_reason, write_sheet
from tests.google_support import accepted_per_recipient, serving, write_gmail_profile

TODAY = date(2026, 11, 25)
ME_ADDR = f"{ME['name']} <{ME['email']}>"
CONTACTS = """
    email,name
    ann@example.com,Ann Lee
    hal@example.com,Hal Moss
    cy@example.com,Cy Park
    di@example.com,Di Moss
    ed@example.com,Ed Wu
    fay@example.com,Fay Orr
"""
# Ann and Hal: talked in August (going cold by now), each referred someone never contacted.
# Cy, Di, Ed and Fay: a call yesterday, so a thank-you is due today.
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-08-01,ann@example.com,call,,,Bob Stone <bob@example.com>
    2026-08-01,hal@example.com,call,,,Gus Hale <gus@example.com>
    2026-11-24,cy@example.com,call,,,
    2026-11-24,di@example.com,call,,,
    2026-11-24,ed@example.com,call,,,
    2026-11-24,fay@example.com,call,,,
"""


def at(day: int, hour: int = 15) -> datetime:
    """A time on a day of November 2026."""
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture
def network(workspace: Workspace, today: str) -> Workspace:
    write_gmail_profile(workspace)
    write_sheet(workspace, CONTACTS, TALKS)
    sync(workspace)
    return workspace


@pytest.fixture
def fake(network: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    with serving(monkeypatch, network) as server:
        yield server


def cold_names(workspace: Workspace, mode: str = "drafts") -> list[str]:
    return [c.name for c in run_follow_up(workspace, mode=mode, dry_run=True).cold]


def test_a_reply_from_a_contact_means_not_going_cold_and_no_intro(
    network: Workspace, fake: FakeGoogle
) -> None:
    """Ann replied this month: no longer going cold (Hal, who did not, still is). Bob, whom
    Ann referred, wrote first: no intro to him (Gus, who did not, gets one)."""
    assert {"Ann Lee", "Hal Moss"} <= set(cold_names(network))
    fake.add_message(from_addr="Ann Lee <ann@example.com>", to_addr=ME_ADDR, when=at(10))
    fake.add_message(
        from_addr="Bob Stone <bob@example.com>",
        to_addr=ME_ADDR,
        subject="Ann said you'd be in touch",
        when=at(20),
    )
    report = run_follow_up(network, mode="drafts")
    assert "mailbox read: 2 new touches, 0 new bounces" in report.notes
    cold = [c.name for c in report.cold]
    assert "Ann Lee" not in cold and "Hal Moss" in cold
    drafted = accepted_per_recipient(fake, "drafts.create")
    assert "bob@example.com" not in drafted and drafted["gus@example.com"] == 1
    assert "intro:" + "e:bob@example.com" not in ledger(network)
    assert sql(network, "SELECT email, direction, touched_on FROM mailbox_touches ORDER BY 1") == [
        ("ann@example.com", "in", date(2026, 11, 10)),
        ("bob@example.com", "in", date(2026, 11, 20)),
    ]


def test_mail_the_user_sent_after_a_conversation_counts_as_its_thank_you(
    network: Workspace, fake: FakeGoogle
) -> None:
    """Cy was written to this morning, after yesterday's call: no thank-you. Ed was written
    to before the call: that mail thanks nothing, so Ed's thank-you is still due."""
    fake.add_message(
        from_addr=ME_ADDR, to_addr="Cy Park <cy@example.com>", subject="Great talk", when=at(25, 9)
    )
    fake.add_message(from_addr=ME_ADDR, to_addr="ed@example.com", subject="Intro", when=at(20))
    report = run_follow_up(network, mode="drafts")
    drafted = accepted_per_recipient(fake, "drafts.create")
    assert "cy@example.com" not in drafted
    assert drafted["di@example.com"] == drafted["ed@example.com"] == 1
    assert "cy@example.com" not in states(report)
    assert sql(network, "SELECT email FROM messages WHERE kind = 'thank-you' ORDER BY 1") == [
        ("di@example.com",),
        ("ed@example.com",),
        ("fay@example.com",),
    ]


def test_an_unsent_draft_to_a_contact_is_no_thank_you(network: Workspace, fake: FakeGoogle) -> None:
    """A draft the user has not sent yet thanks nobody: Cy's thank-you is still due."""
    fake.add_message(
        from_addr=ME_ADDR,
        to_addr="Cy Park <cy@example.com>",
        subject="Draft",
        when=at(25, 9),
        labels=["DRAFT"],
    )
    run_follow_up(network, mode="drafts")
    assert accepted_per_recipient(fake, "drafts.create")["cy@example.com"] == 1


def test_a_bounce_makes_the_address_unmailable_with_its_reason_and_nothing_goes_there(
    network: Workspace, fake: FakeGoogle
) -> None:
    """A mailer-daemon reply naming Fay's address: she waits with the bounce as the reason,
    the unmailable list says why, and neither this run nor the next sends her anything."""
    fake.add_bounce("fay@example.com", when=at(23))
    report = run_follow_up(network, mode="send")
    assert "mailbox read: 0 new touches, 1 new bounces" in report.notes
    reason = "bounced on 2026-11-23: Delivery Status Notification (Failure)"
    assert waiting_reason(report, "fay@example.com") == f"address bounced: {reason}"
    assert sql(network, "SELECT email, reason, found_on FROM unmailable") == [
        ("fay@example.com", reason, date(2026, 11, 23))
    ]
    run_follow_up(network, mode="send")
    sent = accepted_per_recipient(fake)
    assert "fay@example.com" not in sent
    assert set(sent) == {f"{p}@example.com" for p in ("bob", "cy", "di", "ed", "gus")}
    assert set(sent.values()) == {1}


def test_a_bounce_that_arrives_while_an_email_waits_withdraws_it(
    network: Workspace, fake: FakeGoogle
) -> None:
    """Fay's thank-you was deferred by Gmail's sending limit; a bounce for her address
    arrives before the next run: it is withdrawn, never sent."""
    fake.inject("messages.send", "daily_limit")
    first = run_follow_up(network, mode="send")
    assert states(first)["fay@example.com"] == "deferred"
    fake.add_bounce("fay@example.com", when=at(25, 12))
    run_follow_up(network, mode="send")
    assert "fay@example.com" not in accepted_per_recipient(fake)
    [(state, reason)] = sql(
        network, "SELECT state, reason FROM messages WHERE email = 'fay@example.com'"
    )
    assert state == "failed" and "bounced" in reason


def test_a_bounce_without_a_failed_recipients_header_is_read_from_its_text(
    network: Workspace, fake: FakeGoogle
) -> None:
    """Not every mail server adds X-Failed-Recipients: the address named in a postmaster's
    report of a permanent failure (5.x.x) is enough."""
    fake.add_message(
        from_addr="postmaster@mail.example.net",
        to_addr=ME_ADDR,
        subject="Undeliverable: Thanks for the call",
        body=(
            "Delivery has failed to these recipients: fay@example.com\n\n"
            "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'\n"
        ),
        when=at(24),
    )
    assert run_mailbox_touches(network, ME["email"], 60, TODAY) == (0, 1)
    assert sql(network, "SELECT email FROM unmailable") == [("fay@example.com",)]


def test_reading_the_same_mailbox_twice_records_nothing_new(
    network: Workspace, fake: FakeGoogle
) -> None:
    """Touches are keyed by Gmail's message id and bounces by address: a second read of the
    same mail adds no row."""
    fake.add_message(from_addr="ann@example.com", to_addr=ME_ADDR, when=at(10))
    fake.add_message(from_addr=ME_ADDR, to_addr="cy@example.com, di@example.com", when=at(25, 9))
    fake.add_bounce("fay@example.com", when=at(23))
    fake.add_message(from_addr="stranger@example.org", to_addr=ME_ADDR, when=at(22))
    assert run_mailbox_touches(network, ME["email"], 60, TODAY) == (3, 1)
    tables = "SELECT (SELECT count(*) FROM mailbox_touches), (SELECT count(*) FROM unmailable)"
    assert sql(network, tables) == [(3, 1)]
    assert run_mailbox_touches(network, ME["email"], 60, TODAY) == (0, 0)
    assert sql(network, tables) == [(3, 1)]
