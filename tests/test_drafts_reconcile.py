"""Drafts mode reconciles an uncertain draft against Drafts and Sent: a draft whose answer
was lost and which the user has since sent from Gmail is never drafted again (issue #8, 8).
The real client talks HTTP to the fake Google."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from tests.fake_google import FakeGoogle
from tests.follow_up_support import ledger, sync, write_sheet
from tests.google_support import (
    accepted_per_recipient,
    quick_mailer,
    serving,
    write_gmail_profile,
)

PEOPLE = ["a@example.com", "b@example.com", "c@example.com"]
CONTACTS = "email,name\n" + "".join(f"{p},{p[0].upper()}. Person\n" for p in PEOPLE)
TALKS = "date,contact,kind\n" + "".join(f"2026-11-24,{p},call\n" for p in PEOPLE)


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


def user_sends_draft_to(fake: FakeGoogle, address: str) -> None:
    """The user sends the draft from Gmail: it leaves Drafts and is in Sent, same Message-ID."""
    with fake.state.lock:
        for draft_id, draft in list(fake.state.drafts.items()):
            message = fake.state.messages[draft["message_id"]]
            if any(h["name"].lower() == "to" and address in h["value"] for h in message["headers"]):
                del fake.state.drafts[draft_id]
                message["labelIds"] = ["SENT"]
                return
    raise AssertionError(f"no draft to {address}")


@pytest.mark.parametrize("fault", ["503_after", "drop_after"])
def test_a_lost_draft_the_user_has_since_sent_is_found_in_sent_not_drafted_again(
    network: Workspace, fake: FakeGoogle, fault: str
) -> None:
    """The second draft is stored but its answer lost: `unknown`. The user sends it from
    Gmail; the next run finds it in Sent and drafts nothing again."""
    fake.inject("drafts.create", fault, skip=1)
    first = run_follow_up(network, mode="drafts", mailer=quick_mailer(network, "drafts"))
    [unsure] = [o for o in first.outcomes if o.state == "unknown"]
    user_sends_draft_to(fake, unsure.to)

    second = run_follow_up(network, mode="drafts", mailer=quick_mailer(network, "drafts"))
    assert [(o.to, o.state) for o in second.outcomes] == [(unsure.to, "drafted")]
    assert accepted_per_recipient(fake, "drafts.create") == dict.fromkeys(PEOPLE, 1)
    assert set(ledger(network).values()) == {"drafted"}
