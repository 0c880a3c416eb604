"""Every email has a moment (issue 8, defects 2 and 4): a late email is withdrawn, never sent
as if on time; one that still fits is composed again on the day it leaves; its relative
words are true for as long as it may wait; and the daily cap counts what leaves on a day
(breadcrumbs/moments.py, breadcrumbs/follow_up.py, breadcrumbs/store/ledger.py)."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import cast

import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.compose.message import friendly_when
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.moments import withdraw_reason
from breadcrumbs.profile import Etiquette
from breadcrumbs.records import Due
from breadcrumbs.settings import Workspace
from breadcrumbs.store.ledger import due_from_json, due_to_json
from tests.fake_google import FakeGoogle
from tests.follow_up_support import (
    ledger,
    outbox,
    play,
    read_message,
    sql,
    sync,
    text_of,
    write_profile,
    write_sheet,
)
from tests.google_support import serving, write_gmail_profile

CONTACTS = """
    email,name
    ann@example.com,Ann Lee
    bo@example.com,Bo Chan
    cy@example.com,Cy Park
    di@example.com,Di Ross
"""
# Monday, November 23: a coffee with Ann.
ANN_ON_MONDAY = """
    date,contact,kind,topic,notes,referrals
    2026-11-23,ann@example.com,coffee,your team,,
"""
MONDAY = date(2026, 11, 23)


def block_outbox(workspace: Workspace) -> None:
    """A file where the outbox folder should be: no email can be written (even as root)."""
    shutil.rmtree(workspace.outbox, ignore_errors=True)
    workspace.outbox.write_text("not a folder")


def unblock_outbox(workspace: Workspace) -> None:
    workspace.outbox.unlink()


def sent_on(message: EmailMessage) -> date:
    return parsedate_to_datetime(message["Date"]).date()


@pytest.mark.parametrize(
    ("mode", "today", "words"),
    [
        ("send", date(2026, 11, 23), "today"),
        ("send", date(2026, 11, 24), "yesterday"),
        ("send", date(2026, 11, 26), "on Monday"),
        ("outbox", date(2026, 11, 23), "on Monday, November 23"),
        ("outbox", date(2026, 11, 24), "on Monday, November 23"),
        ("drafts", date(2026, 11, 24), "on Monday, November 23"),
    ],
)
def test_relative_words_only_in_the_send_mode(mode: str, today: date, words: str) -> None:
    """A file or a draft waits to be sent by hand, so it names the day; only a sent email
    leaves at once and may say "yesterday"."""
    assert friendly_when(MONDAY, today, mode) == words


@pytest.mark.parametrize(
    ("key", "kind", "for_date", "today", "withdrawn"),
    [
        ("thank-you:i:1", "thank-you", MONDAY, date(2026, 11, 26), False),  # 3 days: fits
        ("thank-you:i:1", "thank-you", MONDAY, date(2026, 11, 27), True),
        ("thank-you:i:1", "thank-you", MONDAY, date(2026, 12, 15), True),
        ("intro:c:1", "intro", None, date(2027, 6, 1), False),  # an intro is never late
        ("monthly:c:1:2026-11", "monthly", None, date(2026, 11, 30), False),
        ("monthly:c:1:2026-11", "monthly", None, date(2026, 12, 1), True),
        ("monthly:c:1:2026-11", "monthly", None, date(2027, 1, 5), True),
    ],
)
def test_each_kind_of_email_has_its_moment(
    key: str, kind: str, for_date: date | None, today: date, withdrawn: bool
) -> None:
    """A thank-you fits `thank_you_days` after its conversation, a monthly update its month."""
    reason = withdraw_reason(key, kind, for_date, today, Etiquette(thank_you_days=3))
    assert (reason is not None) == withdrawn
    if reason:
        assert reason.startswith("withdrawn:")


def test_a_deferred_thank_you_is_composed_again_on_the_day_it_leaves(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deferred on Tuesday (the outbox could not be written), written on Wednesday: it names
    the day of the coffee, never "yesterday", and carries Wednesday's Date."""
    write_profile(workspace, thank_you_days=3)
    write_sheet(workspace, CONTACTS, ANN_ON_MONDAY)
    block_outbox(workspace)
    first = play(workspace, monkeypatch, "2026-11-24")
    assert [o.state for o in first.outcomes] == ["deferred"]

    unblock_outbox(workspace)
    second = play(workspace, monkeypatch, "2026-11-25")
    assert [o.state for o in second.outcomes] == ["written"]
    [path] = outbox(workspace)
    message = read_message(path)
    text = text_of(message)
    assert "for coffee on Monday, November 23." in text
    assert "yesterday" not in text
    assert sent_on(message) == date(2026, 11, 25)
    [(planned_on,)] = sql(workspace, "SELECT planned_on FROM messages")
    assert planned_on == date(2026, 11, 25)


def test_a_thank_you_past_its_days_is_withdrawn_shown_and_never_planned_again(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deferred on Tuesday, the outbox writable again only on Friday (4 days after the
    coffee, thank_you_days = 3): withdrawn with the reason, no file, counted and listed by
    `status`; widening thank_you_days later does not bring it back."""
    write_profile(workspace, thank_you_days=3)
    write_sheet(workspace, CONTACTS, ANN_ON_MONDAY)
    block_outbox(workspace)
    play(workspace, monkeypatch, "2026-11-24")
    unblock_outbox(workspace)

    report = play(workspace, monkeypatch, "2026-11-27")
    [outcome] = report.outcomes
    assert outcome.state == "withdrawn"
    assert "thank_you_days" in outcome.reason
    assert outbox(workspace) == []
    assert ledger(workspace) == {outcome.key: "withdrawn"}

    shown = CliRunner().invoke(app, ["status", "--workspace", str(workspace.root)])
    assert shown.exit_code == 0, shown.output
    assert "1 email: 1 withdrawn" in shown.output
    assert "withdrawn thank-you Ann Lee <ann@example.com>" in shown.output
    assert ": withdrawn: the conversation" in shown.output

    write_profile(workspace, thank_you_days=7)
    again = play(workspace, monkeypatch, "2026-11-27")
    assert again.outcomes == [] and outbox(workspace) == []
    assert ledger(workspace) == {outcome.key: "withdrawn"}


def test_deferred_emails_from_earlier_days_never_push_a_day_past_the_cap(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four thank-yous deferred on Tuesday under a cap of 5; the cap is then 2. Wednesday
    writes two of them, Thursday the other two: never more than 2 leave on one day, and
    Thursday's new conversations wait until there is room."""
    talks = "date,contact,kind\n" + "".join(
        f"2026-11-23,{who}@example.com,call\n" for who in ("ann", "bo", "cy", "di")
    )
    write_profile(workspace, daily_cap=5, thank_you_days=3)
    write_sheet(workspace, CONTACTS + "eve@example.com,Eve Moss\n", talks)
    block_outbox(workspace)
    first = play(workspace, monkeypatch, "2026-11-24")
    assert [o.state for o in first.outcomes] == ["deferred"] * 4

    unblock_outbox(workspace)
    write_profile(workspace, daily_cap=2, thank_you_days=3)
    wednesday = play(workspace, monkeypatch, "2026-11-25")
    assert wednesday.count("written") == 2
    assert [o.reason for o in wednesday.outcomes if o.state == "deferred"] == [
        "daily cap of 2 reached: waits for tomorrow"
    ] * 2

    write_sheet(
        workspace,
        CONTACTS + "eve@example.com,Eve Moss\n",
        talks + ("2026-11-25,eve@example.com,call\n"),
    )
    thursday = play(workspace, monkeypatch, "2026-11-26")
    assert thursday.count("written") == 2
    assert "eve@example.com" in {w.due.email for w in thursday.waiting}
    per_day = sql(
        workspace,
        "SELECT delivered_on, count(*) FROM messages WHERE state = 'written' "
        "GROUP BY delivered_on ORDER BY delivered_on",
    )
    assert per_day == [(date(2026, 11, 25), 2), (date(2026, 11, 26), 2)]

    friday = play(workspace, monkeypatch, "2026-11-27")
    assert [o.to for o in friday.outcomes if o.state == "written"] == ["eve@example.com"]


# --- Gmail: a quota refusal or a refused token defers, like an unwritable outbox ---------


@pytest.fixture
def gmail(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-24")
    write_gmail_profile(workspace)
    write_sheet(workspace, CONTACTS, ANN_ON_MONDAY)
    sync(workspace)
    with serving(monkeypatch, workspace) as fake:
        yield fake


def stored(fake: FakeGoogle) -> list[EmailMessage]:
    """Every message the fake holds (sent or drafted), parsed."""
    with fake.state.lock:
        raws = [base64.urlsafe_b64decode(m["raw"]) for m in fake.state.messages.values()]
    return [cast(EmailMessage, message_from_bytes(r, policy=policy.default)) for r in raws]


def test_send_mode_says_yesterday_when_it_leaves_the_day_after(
    workspace: Workspace, gmail: FakeGoogle
) -> None:
    """Sent at once, the email may say "yesterday": it is read on the day it is dated."""
    report = run_follow_up(workspace, mode="send", read_mailbox=False)
    assert report.count("sent") == 1
    [message] = stored(gmail)
    assert "for coffee yesterday." in text_of(message)


@pytest.mark.parametrize(
    ("mode", "endpoint", "fault", "words"),
    [
        ("send", "messages.send", "daily_limit", "for coffee on Monday."),
        ("drafts", "token", "invalid_grant", "for coffee on Monday, November 23."),
    ],
)
def test_an_email_gmail_refused_yesterday_is_composed_again_today(
    workspace: Workspace,
    gmail: FakeGoogle,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    endpoint: str,
    fault: str,
    words: str,
) -> None:
    """Gmail's sending limit (send) or an expired sign-in (drafts: a 401, then the refresh
    refused) defers the thank-you on Tuesday; on Wednesday it leaves with Wednesday's Date
    and words true on Wednesday."""
    gmail.inject(endpoint, fault)
    if endpoint == "token":
        gmail.inject("drafts.create", "401")
    first = run_follow_up(workspace, mode=mode, read_mailbox=False)
    assert [o.state for o in first.outcomes] == ["deferred"]

    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    second = run_follow_up(workspace, mode=mode, read_mailbox=False)
    assert second.count("sent" if mode == "send" else "drafted") == 1
    [message] = stored(gmail)
    assert words in text_of(message)
    assert "yesterday" not in text_of(message)
    assert sent_on(message) == date(2026, 11, 25)


# --- What the ledger keeps to compose a row again -----------------------------------------


def test_a_due_kept_in_the_ledger_comes_back_the_same() -> None:
    """Referrals stay a tuple, the conversation's date a date: the email composed again is
    composed from the same facts."""
    due = Due(
        key="thank-you:i:1",
        kind="thank-you",
        contact_id="c:1",
        email="ann@example.com",
        name="Ann Lée",
        first_name="Ann",
        for_date=MONDAY,
        conversation_kind="coffee",
        referrals=("Bo Chan", "Cy Park"),
    )
    assert due_from_json(due_to_json(due)) == due


def test_a_row_an_older_version_planned_is_composed_afresh_not_sent_as_it_was(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row deferred by a version that kept no Due cannot be composed again: it is dropped
    (it never left) and the next run plans it afresh, in the words of that day."""
    write_profile(workspace, thank_you_days=3)
    write_sheet(workspace, CONTACTS, ANN_ON_MONDAY)
    block_outbox(workspace)
    play(workspace, monkeypatch, "2026-11-24")
    sql(workspace, "UPDATE messages SET due = NULL")
    unblock_outbox(workspace)

    report = play(workspace, monkeypatch, "2026-11-25")
    assert [o.state for o in report.outcomes] == ["skipped"]
    assert outbox(workspace) == [] and ledger(workspace) == {}
    again = play(workspace, monkeypatch, "2026-11-25")
    assert [o.state for o in again.outcomes] == ["written"]
    assert "on Monday, November 23." in text_of(read_message(outbox(workspace)[0]))


def test_a_late_email_whose_template_broke_waits_with_the_reason(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Composed again at delivery, a template edited into an error since holds that email
    back (still deferred, the reason given), and it goes once the template is fixed."""
    write_profile(workspace, thank_you_days=3)
    write_sheet(workspace, CONTACTS, ANN_ON_MONDAY)
    block_outbox(workspace)
    play(workspace, monkeypatch, "2026-11-24")
    unblock_outbox(workspace)
    broken = workspace.templates / "thank-you.md.j2"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("Subject: Thanks {{ contact.nickname }}\n\nHi\n", encoding="utf-8")

    report = play(workspace, monkeypatch, "2026-11-25")
    [outcome] = report.outcomes
    assert outcome.state == "skipped" and "nickname" in outcome.reason
    assert set(ledger(workspace).values()) == {"deferred"} and outbox(workspace) == []

    broken.unlink()
    report = play(workspace, monkeypatch, "2026-11-26")
    assert [o.state for o in report.outcomes] == ["written"]
    assert "on Monday, November 23." in text_of(read_message(outbox(workspace)[0]))
