"""The follow-up batch through Gmail end to end: `run_follow_up(mode="drafts"|"send")` and
`breadcrumbs follow-up --mode send`, with the real google-api-python-client talking HTTP to
the fake Google (tests/fake_google.py), its faults, and the ledger on the real DuckDB file."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from tests.fake_google import FakeGoogle
from tests.follow_up_support import ledger, sql, sync, write_sheet
from tests.google_support import (
    accepted_per_recipient,
    connect,
    quick_mailer,
    serving,
    write_gmail_profile,
)

PEOPLE = ["a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"]
CONTACTS = "email,name\n" + "".join(f"{p},{p[0].upper()}. Person\n" for p in PEOPLE)
TALKS = "date,contact,kind\n" + "".join(f"2026-11-24,{p},call\n" for p in PEOPLE)
ONCE_EACH = dict.fromkeys(PEOPLE, 1)
LEDGER_SQL = (
    "SELECT email, state, message_id, provider_id, stored_message_id, reason FROM messages "
    "ORDER BY email"
)


@pytest.fixture
def network(workspace: Workspace, today: str) -> Workspace:
    """Five people, each met for a call yesterday: five thank-yous due today."""
    write_gmail_profile(workspace)
    write_sheet(workspace, CONTACTS, TALKS)
    sync(workspace)
    return workspace


@pytest.fixture
def fake(network: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    with serving(monkeypatch, network) as server:
        yield server


def rows(workspace: Workspace) -> dict[str, dict[str, str | None]]:
    """Recipient -> the ledger row's state and ids."""
    names = ["state", "message_id", "provider_id", "stored_message_id", "reason"]
    return {r[0]: dict(zip(names, r[1:], strict=True)) for r in sql(workspace, LEDGER_SQL)}


def test_drafts_mode_creates_one_draft_per_due_email_and_records_drafted(
    network: Workspace, fake: FakeGoogle
) -> None:
    """Five thank-yous due: five drafts in the mailbox, nothing sent, each row `drafted`."""
    report = run_follow_up(network, mode="drafts")
    assert report.count("drafted") == 5
    assert accepted_per_recipient(fake, "drafts.create") == ONCE_EACH
    assert fake.accepted_sends("messages.send") == []
    drafts = {a["id"]: a for a in fake.accepted_sends("drafts.create")}
    for row in rows(network).values():
        assert row["state"] == "drafted"
        assert row["provider_id"] in drafts  # the draft's id, to find it again
        assert row["stored_message_id"] == drafts[str(row["provider_id"])]["message_id"]


def test_send_mode_records_sent_with_the_message_id_gmail_stored(
    network: Workspace, fake: FakeGoogle
) -> None:
    """Each email sent once; its row is `sent` with Gmail's message id and the Message-ID
    read back from the mailbox."""
    report = run_follow_up(network, mode="send")
    assert report.count("sent") == 5
    assert accepted_per_recipient(fake) == ONCE_EACH
    accepted = {a["id"]: a for a in fake.accepted_sends("messages.send")}
    for row in rows(network).values():
        assert row["state"] == "sent"
        stored = accepted[str(row["provider_id"])]["message_id"]
        assert row["stored_message_id"] == stored == row["message_id"]


def test_a_message_id_that_gmail_replaced_is_the_one_kept(
    network: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gmail is not documented to keep the client's Message-ID: the stored one is recorded."""
    with serving(monkeypatch, network, rewrite_message_id=True) as fake:
        assert run_follow_up(network, mode="send").count("sent") == 5
        accepted = {a["id"]: a["message_id"] for a in fake.accepted_sends("messages.send")}
    for row in rows(network).values():
        assert row["stored_message_id"] == accepted[str(row["provider_id"])]
        assert row["stored_message_id"] != row["message_id"]


def test_a_second_run_sends_nothing(network: Workspace, fake: FakeGoogle) -> None:
    """The ledger remembers every email: running again adds no send and no row."""
    run_follow_up(network, mode="send")
    again = run_follow_up(network, mode="send")
    assert again.outcomes == []
    assert accepted_per_recipient(fake) == ONCE_EACH
    assert len(ledger(network)) == 5


@pytest.mark.parametrize("kind", ["daily_limit", "mail_sending"])
def test_a_sending_limit_defers_the_rest_and_the_next_run_delivers_exactly_them(
    network: Workspace, fake: FakeGoogle, kind: str
) -> None:
    """Gmail's sending limit on the third send: two sent, three deferred with the reason;
    the next run without the limit sends those three and nothing else."""
    fake.inject("messages.send", kind, skip=2)
    first = run_follow_up(network, mode="send")
    assert (first.count("sent"), first.count("deferred")) == (2, 3)
    deferred = [o for o in first.outcomes if o.state == "deferred"]
    assert all("sending limit" in o.reason for o in deferred)
    assert sorted(ledger(network).values()) == ["deferred"] * 3 + ["sent"] * 2
    before = set(accepted_per_recipient(fake))

    second = run_follow_up(network, mode="send")
    assert second.count("sent") == 3 and len(second.outcomes) == 3
    assert {o.to for o in second.outcomes} == set(PEOPLE) - before
    assert accepted_per_recipient(fake) == ONCE_EACH
    assert set(ledger(network).values()) == {"sent"}


@pytest.mark.parametrize(
    ("kind", "delay"), [("503_after", 0.0), ("drop_after", 0.0), ("slow_after", 2.5)]
)
def test_a_send_accepted_without_a_good_reply_is_unknown_then_found_and_never_resent(
    network: Workspace, fake: FakeGoogle, kind: str, delay: float
) -> None:
    """The fake stores the second email but answers 503, drops the connection or replies
    after the client's timeout: that row is `unknown`, the batch goes on; the next run finds
    it in the mailbox, marks it sent, and the fake still holds one copy."""
    fake.inject("messages.send", kind, skip=1, delay=delay)
    first = run_follow_up(network, mode="send", mailer=quick_mailer(network, "send"))
    assert (first.count("sent"), first.count("unknown")) == (4, 1)
    [unsure] = [o for o in first.outcomes if o.state == "unknown"]
    assert accepted_per_recipient(fake) == ONCE_EACH  # it did land, once

    second = run_follow_up(network, mode="send", mailer=quick_mailer(network, "send"))
    assert [(o.to, o.state, o.reason) for o in second.outcomes] == [
        (unsure.to, "sent", "found delivered on reconcile")
    ]
    assert accepted_per_recipient(fake) == ONCE_EACH
    row = rows(network)[unsure.to]
    assert row["state"] == "sent" and row["provider_id"]


def test_a_500_before_accepting_is_unknown_then_not_found_and_sent_exactly_once(
    network: Workspace, fake: FakeGoogle
) -> None:
    """A 500 may mean anything, so the row is `unknown`; the next run looks, finds nothing
    in the mailbox, and sends it once."""
    fake.inject("messages.send", "500", skip=1)
    first = run_follow_up(network, mode="send", mailer=quick_mailer(network, "send"))
    [unsure] = [o for o in first.outcomes if o.state == "unknown"]
    assert unsure.to not in accepted_per_recipient(fake)

    second = run_follow_up(network, mode="send", mailer=quick_mailer(network, "send"))
    assert [(o.to, o.state) for o in second.outcomes] == [(unsure.to, "sent")]
    assert accepted_per_recipient(fake) == ONCE_EACH
    assert set(ledger(network).values()) == {"sent"}


def test_an_expired_token_is_refreshed_at_the_configured_endpoint_and_saved_0600(
    network: Workspace, fake: FakeGoogle
) -> None:
    """An expired access token (and a token_uri planted in the file) is refreshed through
    BREADCRUMBS_GOOGLE_TOKEN_URI before the first send, and the new one saved back, 0600."""
    past = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = connect(
        network.root,
        fake,
        token="ya29.expired-and-unknown-to-the-fake",
        expiry=past,
        token_uri="http://127.0.0.1:9/stolen",
    )
    report = run_follow_up(network, mode="send", read_mailbox=False)
    assert report.count("sent") == 5
    assert [(r["grant_type"], r["outcome"]) for r in fake.token_requests()] == [
        ("refresh_token", "ok")
    ]
    saved = json.loads(path.read_text())
    assert saved["token"] in fake.state.access_tokens
    assert saved["token"] != "ya29.expired-and-unknown-to-the-fake"
    assert "token_uri" not in saved
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_cli_refuses_to_send_without_yes_and_no_terminal_and_sends_with_yes(
    network: Workspace, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`follow-up --mode send` with no terminal to confirm at: refused, nothing sent, no row;
    with --yes: five sent."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    runner = CliRunner()
    args = ["follow-up", "--mode", "send", "--no-sync", "--no-prefect", "-w", str(network.root)]
    refused = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert refused.exit_code != 0
    assert "add --yes" in refused.output
    assert fake.accepted_sends() == [] and ledger(network) == {}

    sent = runner.invoke(app, [*args, "--yes"], env={"COLUMNS": "250"})
    assert sent.exit_code == 0, sent.output
    assert "Follow-up (send)" in sent.output and "5 sent" in sent.output
    assert accepted_per_recipient(fake) == ONCE_EACH
