"""Bounces: only a permanent failure makes an address unmailable, and `breadcrumbs unbounce`
takes one back (google/mailbox.py, issue #8, 7). Reports are seeded in the fake Gmail and
read with the real client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.google.mailbox import bounce_text, run_mailbox_touches
from breadcrumbs.settings import Workspace
from tests.fake_google import FakeGoogle
from tests.follow_up_support import ME, sql, states, sync, write_sheet
from tests.google_support import serving, write_gmail_profile
from tests.test_mailbox_touches import at

TODAY = date(2026, 11, 25)
ME_ADDR = f"{ME['name']} <{ME['email']}>"
CONTACTS = "email,name\ncy@example.com,Cy Park\ndi@example.com,Di Moss\ned@example.com,Ed Wu\n"
TALKS = (
    "date,contact,kind\n2026-11-24,Cy Park,call\n2026-11-24,Di Moss,call\n2026-11-24,Ed Wu,call\n"
)
GMAIL_DELAY = (
    "Delivery incomplete\n\nThere was a temporary problem delivering your message to "
    "{addr}. Gmail will retry for 46 more hours. You'll be notified if the delivery fails "
    "permanently.\n\nThe response was:\n\n421 4.7.0 Try again later, closing connection.\n"
)
# A Postfix report: its status code comes well after the 100 characters of a snippet.
POSTFIX_FAILURE = (
    "This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you that "
    "your message could not be delivered to one or more recipients. It's attached below.\n\n"
    "<{addr}>: host mx.example.com said: 550 5.1.1 <{addr}>: Recipient address rejected: "
    "User unknown in virtual mailbox table\n"
)


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


def report_from(fake: FakeGoogle, sender: str, subject: str, body: str, addr: str) -> None:
    fake.add_message(
        from_addr=sender,
        to_addr=ME_ADDR,
        subject=subject,
        body=body.format(addr=addr),
        when=at(24, 20),
        extra_headers={"X-Failed-Recipients": addr},
    )


def unmailable(network: Workspace) -> list[str]:
    return [r[0] for r in sql(network, "SELECT email FROM unmailable ORDER BY 1")]


def test_a_delay_notice_leaves_the_address_mailable(network: Workspace, fake: FakeGoogle) -> None:
    """Gmail will retry: Cy's address is fine, and Cy's thank-you still goes."""
    mailer_daemon = "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"
    report_from(fake, mailer_daemon, "Delivery Status Notification (Delay)", GMAIL_DELAY, "cy@x")
    report_from(
        fake, mailer_daemon, "Delivery Status Notification (Delay)", GMAIL_DELAY, "cy@example.com"
    )
    report = run_follow_up(network, mode="drafts")
    assert "0 new bounces" in " ".join(report.notes)
    assert unmailable(network) == []
    assert states(report)["cy@example.com"] == "drafted"


def test_a_permanent_failure_marks_the_address_whatever_the_server(
    network: Workspace, fake: FakeGoogle
) -> None:
    """A 5.x.x status deep in a Postfix report, or Gmail's "Address not found", is a bounce."""
    report_from(
        fake, "MAILER-DAEMON@mx.example.net", "Undelivered Mail", POSTFIX_FAILURE, "di@example.com"
    )
    fake.add_bounce("ed@example.com", when=at(24, 21))
    assert run_mailbox_touches(network, ME["email"], 60, TODAY) == (0, 2)
    assert unmailable(network) == ["di@example.com", "ed@example.com"]


def test_unbounce_lets_the_address_be_mailed_again_until_a_newer_bounce(
    network: Workspace, fake: FakeGoogle
) -> None:
    """The old bounce, still in the mailbox, is not counted again; a new one is."""
    fake.add_bounce("ed@example.com", when=at(22))
    run_mailbox_touches(network, ME["email"], 60, TODAY)
    assert unmailable(network) == ["ed@example.com"]
    result = CliRunner().invoke(app, ["unbounce", "Ed@Example.com", "-w", str(network.root)])
    assert result.exit_code == 0, result.output
    assert "may be emailed again" in result.stdout
    report = run_follow_up(network, mode="drafts")
    assert states(report)["ed@example.com"] == "drafted"
    assert unmailable(network) == []
    fake.add_bounce("ed@example.com", when=at(26))
    assert run_mailbox_touches(network, ME["email"], 60, TODAY) == (0, 1)
    assert unmailable(network) == ["ed@example.com"]


def test_the_returned_original_is_not_read_as_the_server_s_verdict() -> None:
    """A delay report whose attached original mentions "5.1.1" is still a delay."""
    raw = (
        b"From: MAILER-DAEMON@mx.example.net\r\nSubject: Delayed Mail (still being retried)\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nStill trying to deliver to <ed@example.com>\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; ed@example.com\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: jordan@example.com\r\n"
        b"To: ed@example.com\r\n\r\nWe moved to release 5.1.1 last week.\r\n--b--\r\n"
    )
    text = bounce_text(raw)
    assert "Status: 4.4.1" in text and "Still trying" in text
    assert "5.1.1" not in text
