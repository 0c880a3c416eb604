"""Gmail mailers against the fake: each fault's outcome, exactly once, reconcile, pacing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from breadcrumbs.deliver.gmail import GmailDraftsMailer, GmailSendMailer, Pacer, gmail_mailer
from breadcrumbs.deliver.mailer import Mailer
from breadcrumbs.errors import AuthError, DeliveryFailed, DeliveryUnknown, QuotaExhausted
from breadcrumbs.google.api import build_gmail
from breadcrumbs.records import OutgoingEmail
from tests.fake_google import FakeGoogle, authorized_user_info

TIMEOUT = 1.0  # client timeout in these tests; the slow fault waits longer than this


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_TOKEN_URI", server.token_uri)
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", server.url)
        (tmp_path / "token.json").write_text(json.dumps(authorized_user_info(server)))
        yield server


class Sleeps:
    """An injectable sleep that records waits instead of taking them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def played_pacer() -> Pacer:
    """A real-rate pacer on a played clock: its waits take no wall time."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return Pacer(clock=lambda: now[0], sleep=sleep)


def sender(tmp_path: Path, **kwargs: Any) -> GmailSendMailer:
    kwargs.setdefault("pacer", played_pacer())
    mailer = gmail_mailer("send", tmp_path, timeout=TIMEOUT, sleep=Sleeps(), **kwargs)
    assert isinstance(mailer, GmailSendMailer)
    return mailer


def drafter(tmp_path: Path, **kwargs: Any) -> GmailDraftsMailer:
    kwargs.setdefault("pacer", played_pacer())
    mailer = gmail_mailer("drafts", tmp_path, timeout=TIMEOUT, sleep=Sleeps(), **kwargs)
    assert isinstance(mailer, GmailDraftsMailer)
    return mailer


def outgoing(n: int = 1, to: str = "ann@example.org", subject: str | None = None) -> OutgoingEmail:
    subject = subject or f"Thank you for the call ({n})"
    msg = EmailMessage()
    msg["From"] = "Sam Seeker <seeker@example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<thank-you.{n}@breadcrumbs.example.com>"
    msg.set_content("Thank you for your time today.\n")
    return OutgoingEmail(
        key=f"thank-you:i:{n}",
        to_addr=to,
        subject=subject,
        message_id=msg["Message-ID"],
        raw=msg.as_bytes().replace(b"\n", b"\r\n"),
        planned_at=datetime.now(UTC) - timedelta(minutes=1),
    )


def test_both_mailers_satisfy_the_mailer_protocol(fake: FakeGoogle, tmp_path: Path) -> None:
    """The flows can hold either as a Mailer."""
    mailers: list[Mailer] = [sender(tmp_path), drafter(tmp_path)]
    assert [m.mode for m in mailers] == ["send", "drafts"]


def test_a_send_records_one_message_and_returns_the_stored_message_id(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """A plain send: one message at Gmail, its id and Message-ID returned."""
    delivery = sender(tmp_path).deliver(outgoing())
    sends = fake.accepted_sends("messages.send")
    assert len(sends) == 1
    assert delivery.state == "sent"
    assert delivery.provider_id == sends[0]["id"]
    assert delivery.stored_message_id == "<thank-you.1@breadcrumbs.example.com>"


def test_the_message_id_gmail_stored_is_read_back_when_it_differs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """If Gmail replaced the Message-ID, the delivery carries Gmail's, and reconcile finds it."""
    with FakeGoogle(rewrite_message_id=True) as server:
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_TOKEN_URI", server.token_uri)
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", server.url)
        (tmp_path / "token.json").write_text(json.dumps(authorized_user_info(server)))
        mailer = sender(tmp_path)
        email = outgoing()
        delivery = mailer.deliver(email)
        stored = server.accepted_sends()[0]["message_id"]
        assert delivery.stored_message_id == stored != email.message_id
        # rfc822msgid: finds nothing now; the in:sent/to/after/subject search does.
        found = mailer.find_delivered(email)
        assert found is not None and found.provider_id == delivery.provider_id
        assert found.stored_message_id == stored


def test_dropped_connection_after_accept_sends_once_raises_unknown_and_is_found(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """The httplib2 hazard: the fake closes the socket after storing; still exactly one send."""
    mailer = sender(tmp_path)
    mailer.deliver(outgoing(1))  # so the next send rides a kept-alive connection
    email = outgoing(2)
    fake.inject("messages.send", "drop_after")
    with pytest.raises(DeliveryUnknown):
        mailer.deliver(email)
    assert len(fake.accepted_sends("messages.send")) == 2
    assert fake.calls("messages.send") == 2
    found = mailer.find_delivered(email)
    assert found is not None and found.state == "sent"
    assert found.provider_id == fake.accepted_sends()[1]["id"]


def test_the_plain_client_would_have_sent_twice_on_a_dropped_connection(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """Why the mailer avoids execute(): httplib2 re-posts after a drop, even with no retries."""
    mailer = sender(tmp_path)
    gmail = build_gmail(mailer.creds, timeout=TIMEOUT)
    gmail.users().getProfile(userId="me").execute()  # a kept-alive connection, as in a batch
    fake.inject("messages.send", "drop_after")
    raw = base64.urlsafe_b64encode(outgoing().raw).decode()
    gmail.users().messages().send(userId="me", body={"raw": raw}).execute(num_retries=0)
    assert len(fake.accepted_sends("messages.send")) == 2


def test_a_503_after_accepting_is_unknown_and_recorded_once(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """5xx after the store: unknown, one message, found by reconcile."""
    mailer = sender(tmp_path)
    fake.inject("messages.send", "503_after")
    with pytest.raises(DeliveryUnknown):
        mailer.deliver(outgoing())
    assert len(fake.accepted_sends()) == 1
    assert mailer.find_delivered(outgoing()) is not None


def test_a_500_before_accepting_is_unknown_and_reconcile_says_not_sent(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """A 500 might have sent, so unknown; the lookup then proves it did not."""
    mailer = sender(tmp_path)
    fake.inject("messages.send", "500")
    with pytest.raises(DeliveryUnknown):
        mailer.deliver(outgoing())
    assert fake.accepted_sends() == []
    assert mailer.find_delivered(outgoing()) is None


def test_a_reply_slower_than_the_timeout_is_unknown_and_recorded_once(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """The client gives up before Gmail answers: unknown, and no second attempt."""
    mailer = sender(tmp_path)
    fake.inject("messages.send", "slow_after", delay=TIMEOUT + 1.0)
    with pytest.raises(DeliveryUnknown):
        mailer.deliver(outgoing())
    assert len(fake.accepted_sends()) == 1
    assert fake.calls("messages.send") == 1


def test_a_dropped_connection_before_accepting_is_unknown_then_not_found(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """Unknown is never guessed away: the lookup decides, and here it finds nothing."""
    mailer = sender(tmp_path)
    fake.inject("messages.send", "drop_before")
    with pytest.raises(DeliveryUnknown):
        mailer.deliver(outgoing())
    assert fake.calls("messages.send") == 1
    assert mailer.find_delivered(outgoing()) is None


def test_a_429_is_backed_off_and_then_sent_exactly_once(fake: FakeGoogle, tmp_path: Path) -> None:
    """A rate-limit reply means not accepted: wait, send again, one message."""
    sleeps = Sleeps()
    mailer = gmail_mailer("send", tmp_path, timeout=TIMEOUT, sleep=sleeps, pacer=played_pacer())
    fake.inject("messages.send", "429", count=2)
    delivery = mailer.deliver(outgoing())
    assert delivery.state == "sent"
    assert len(fake.accepted_sends()) == 1
    assert fake.calls("messages.send") == 3
    assert len(sleeps.waits) == 2 and sleeps.waits[1] > sleeps.waits[0] * 0.5


@pytest.mark.parametrize("kind", ["403_user_rate", "403_rate"])
def test_a_403_rate_limit_is_backed_off_and_then_sent_once(
    fake: FakeGoogle, tmp_path: Path, kind: str
) -> None:
    """userRateLimitExceeded and rateLimitExceeded are retried like a 429."""
    fake.inject("messages.send", kind)
    assert sender(tmp_path).deliver(outgoing()).state == "sent"
    assert len(fake.accepted_sends()) == 1


def test_endless_rate_limits_defer_the_batch(fake: FakeGoogle, tmp_path: Path) -> None:
    """After the last back-off the rest waits for the next run, nothing sent."""
    fake.inject("messages.send", "429", count=10)
    with pytest.raises(QuotaExhausted):
        sender(tmp_path, rate_limit_retries=2).deliver(outgoing())
    assert fake.accepted_sends() == []
    assert fake.calls("messages.send") == 3


@pytest.mark.parametrize("kind", ["daily_limit", "mail_sending"])
def test_the_sending_limit_defers_without_retrying(
    fake: FakeGoogle, tmp_path: Path, kind: str
) -> None:
    """dailyLimitExceeded or '(Mail sending)': QuotaExhausted at once, one call."""
    fake.inject("messages.send", kind)
    with pytest.raises(QuotaExhausted, match="next run"):
        sender(tmp_path).deliver(outgoing())
    assert fake.calls("messages.send") == 1


def test_the_daily_send_limit_of_the_fake_stops_the_batch(fake: FakeGoogle, tmp_path: Path) -> None:
    """The third send of a two-a-day account is deferred; two went out."""
    fake.set_daily_send_limit(2)
    mailer = sender(tmp_path)
    mailer.deliver(outgoing(1))
    mailer.deliver(outgoing(2))
    with pytest.raises(QuotaExhausted):
        mailer.deliver(outgoing(3))
    assert len(fake.accepted_sends()) == 2


def test_an_invalid_recipient_fails_with_gmails_reason(fake: FakeGoogle, tmp_path: Path) -> None:
    """A 400 certainly did not send: DeliveryFailed with a short reason."""
    fake.inject("messages.send", "400_invalid_to")
    with pytest.raises(DeliveryFailed, match="Invalid To header"):
        sender(tmp_path).deliver(outgoing())
    assert fake.accepted_sends() == []


def test_a_401_that_survives_the_refresh_is_an_auth_error(fake: FakeGoogle, tmp_path: Path) -> None:
    """google-auth refreshes once on 401 (safe: nothing accepted); a second 401 stops us."""
    fake.inject("messages.send", "401", count=5)
    with pytest.raises(AuthError, match="breadcrumbs auth"):
        sender(tmp_path).deliver(outgoing())
    assert fake.accepted_sends() == []


def test_an_expiring_token_is_refreshed_and_saved_before_the_send(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """Refresh before sending, not on a 401 mid-batch; the new token is saved back."""
    mailer = sender(tmp_path)
    soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1)
    mailer.creds.expiry = soon
    mailer.deliver(outgoing())
    assert [r["grant_type"] for r in fake.token_requests()] == ["refresh_token"]
    saved = json.loads((tmp_path / "token.json").read_text())
    assert saved["token"] == mailer.creds.token


def test_a_failed_lookup_stays_unknown_rather_than_saying_not_sent(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """find_delivered returns None only when it knows; a broken search raises DeliveryUnknown."""
    mailer = sender(tmp_path, read_retries=0)
    fake.inject("messages.list", "500")
    with pytest.raises(DeliveryUnknown):
        mailer.find_delivered(outgoing())


def test_reconcile_ignores_mail_to_the_same_person_with_another_subject(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """A hand-written mail to the contact since the row was planned is not our email."""
    fake.add_message(from_addr="seeker@example.com", to_addr="ann@example.org", subject="Lunch?")
    assert sender(tmp_path).find_delivered(outgoing()) is None


def test_a_sent_mail_in_the_trash_still_counts_as_sent(fake: FakeGoogle, tmp_path: Path) -> None:
    """includeSpamTrash: a sent copy the user deleted is still a sent email."""
    email = outgoing()
    fake.add_message(
        from_addr="seeker@example.com",
        to_addr=email.to_addr,
        subject=email.subject,
        message_id=email.message_id,
        labels=["SENT", "TRASH"],
    )
    assert sender(tmp_path).find_delivered(email) is not None


def test_a_draft_is_created_once_and_found_after_a_dropped_connection(
    fake: FakeGoogle, tmp_path: Path
) -> None:
    """Drafts mode: drafts.create over one attempt, found again by drafts.list."""
    mailer = drafter(tmp_path)
    assert mailer.deliver(outgoing(1)).state == "drafted"
    fake.inject("drafts.create", "drop_after")
    with pytest.raises(DeliveryUnknown):
        mailer.deliver(outgoing(2))
    assert len(fake.accepted_sends("drafts.create")) == 2
    found = mailer.find_delivered(outgoing(2))
    assert found is not None and found.state == "drafted"
    assert found.provider_id == fake.accepted_sends()[1]["id"]
    assert mailer.find_delivered(outgoing(3)) is None


def test_pacing_keeps_a_batch_under_the_per_user_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """50 sends with read-back at 6,000 units a minute meet no quota error from the fake."""
    now = [0.0]

    def clock() -> float:
        return now[0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    # The fake's quota window runs on the same played clock, so minutes pass in milliseconds.
    with FakeGoogle(clock=clock) as server:
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_TOKEN_URI", server.token_uri)
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", server.url)
        (tmp_path / "token.json").write_text(json.dumps(authorized_user_info(server)))
        server.set_quota(6000, window_seconds=60.0)
        pacer = Pacer(6000, clock=clock, sleep=sleep)
        mailer = gmail_mailer("send", tmp_path, timeout=5.0, pacer=pacer, rate_limit_retries=0)
        for n in range(50):
            mailer.deliver(outgoing(n))
        assert len(server.accepted_sends()) == 50
        assert server.calls("messages.send") == 50  # no 429, so no retry was needed
        # 50 x (100 + 5) units = 5,250 spent: about 52 s of played time at 100 units/s.
        assert 45.0 < now[0] < 60.0


def test_without_pacing_the_same_batch_meets_the_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The control: a burst with no pacing is refused by the fake's quota."""
    with FakeGoogle(clock=lambda: 0.0) as server:
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_TOKEN_URI", server.token_uri)
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", server.url)
        (tmp_path / "token.json").write_text(json.dumps(authorized_user_info(server)))
        server.set_quota(1000, window_seconds=60.0)
        mailer = gmail_mailer(
            "send",
            tmp_path,
            timeout=5.0,
            pacer=Pacer(10**9, burst=10**6),
            rate_limit_retries=0,
            sleep=Sleeps(),
        )
        with pytest.raises(QuotaExhausted):
            for n in range(20):
                mailer.deliver(outgoing(n))
        assert len(server.accepted_sends()) < 20


def test_the_pacer_never_spends_more_than_its_rate_in_any_minute() -> None:
    """Token bucket: in every 60-second window at most units_per_minute are spent."""
    now = [0.0]
    spent: list[tuple[float, int]] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    pacer = Pacer(600, burst=100, clock=lambda: now[0], sleep=sleep)
    for i in range(200):
        units = 100 if i % 3 == 0 else 5
        pacer.take(units)
        spent.append((now[0], units))
    for start, _ in spent:
        window = sum(u for t, u in spent if start <= t < start + 60.0)
        assert window <= 600
    assert now[0] > 60.0  # it did have to wait


def test_a_call_dearer_than_the_burst_is_refused() -> None:
    """A bucket that can never hold a send would wait forever: refuse at once."""
    with pytest.raises(ValueError):
        Pacer(6000, burst=50).take(100)
