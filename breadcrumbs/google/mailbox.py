"""Touches from the mailbox: who wrote to you, who you wrote to, and which addresses bounce.

Someone who wrote or replied recently is not going cold and needs no redundant email; a
message you sent someone yourself after a conversation counts as its thank-you; a bounce
(a mailer-daemon reply naming a contact's address) makes that address unmailable, with the
reason shown, when it reports a permanent failure; a delay notice does not, and
`breadcrumbs unbounce` takes a bounce back. Reads only: listing and reading messages is safe
to retry.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING, Any

from breadcrumbs import clock
from breadcrumbs.store.database import insert_columns, set_meta

if TYPE_CHECKING:
    import duckdb

_DAEMON = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_PERMANENT = re.compile(r"(?<![\w.])5\.\d{1,3}\.\d{1,3}(?![\w.])")
UNBOUNCED = "unbounced:"  # meta key prefix: the day an address's bounces were taken back
HEADERS = ["From", "To", "Cc", "Date", "Subject", "X-Failed-Recipients"]


@dataclass(frozen=True)
class Touch:
    provider_id: str
    email: str
    direction: str  # "in": they wrote; "out": you wrote
    touched_on: date  # the day in the user's zone
    subject: str
    touched_local: datetime | None = None  # the moment, on the user's clock (naive)


@dataclass(frozen=True)
class Bounce:
    email: str
    reason: str
    found_on: date


def is_from_daemon(headers: dict[str, str]) -> bool:
    """A mail server's report (mailer-daemon, postmaster): a bounce or a delay notice."""
    return bool(_DAEMON.match(parseaddr(headers.get("From", ""))[1]))


def is_permanent_failure(text: str) -> bool:
    """A report that the mail will never arrive: an RFC 3463 status of class 5 ("Status:
    5.1.1", "550 5.1.1 ..."), or Gmail's "Address not found". A delay notice (4.x.x, "will
    retry") is not: the mail may still arrive, and the address is fine (issue #8)."""
    return bool(_PERMANENT.search(text)) or "address not found" in text.casefold()


def classify(
    provider_id: str, headers: dict[str, str], me: str, contacts: set[str], text: str = ""
) -> tuple[list[Touch], list[Bounce]]:
    """What one message tells: touches with known contacts, or a bounce of one of them.

    `text` is the snippet, or for a mail server's report its readable text (bounce_text).
    """
    # The user's clock, not UTC's: mail sent at 8 pm in New York the evening before a
    # meeting is dated the day before it, never the day of it (issue #8).
    moment = _moment_of(headers).astimezone(clock.zone()).replace(tzinfo=None)
    when = moment.date()
    sender = parseaddr(headers.get("From", ""))[1].lower()
    subject = headers.get("Subject", "")[:200]
    if _DAEMON.match(sender):
        if not is_permanent_failure(f"{subject}\n{text}"):
            return [], []
        failed = {a.lower() for a in _ADDRESS.findall(headers.get("X-Failed-Recipients", ""))}
        if not failed:
            failed = {a.lower() for a in _ADDRESS.findall(text)}
        reason = f"bounced on {when}: {subject or 'delivery failed'}"
        return [], [Bounce(a, reason, when) for a in sorted(failed & contacts)]
    recipients = {
        a.lower() for _, a in getaddresses([headers.get("To", ""), headers.get("Cc", "")]) if a
    }
    if sender == me.lower():
        return [
            Touch(f"{provider_id}:{a}", a, "out", when, subject, moment)
            for a in sorted(recipients & contacts)
        ], []
    if sender in contacts:
        return [Touch(f"{provider_id}:{sender}", sender, "in", when, subject, moment)], []
    return [], []


def _moment_of(headers: dict[str, str]) -> datetime:
    """When the message was sent or received (aware): Gmail's internal date, else Date."""
    internal = headers.get("internalDate", "")
    if internal.isdigit():
        return datetime.fromtimestamp(int(internal) / 1000, UTC)
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(headers.get("Date", ""))
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read_mailbox(
    gmail: Any, me: str, contacts: set[str], since: date, limit: int = 2000, pacer: Any = None
) -> tuple[list[Touch], list[Bounce]]:
    """Messages since `since` (Gmail's after: in epoch seconds: its dates are Pacific time).

    Drafts are left out: a draft you have not sent yet is no thank-you, nor a touch.
    """
    from breadcrumbs.google.api import list_message_ids, message_headers, message_raw

    epoch = int(datetime.combine(since, time.min, UTC).timestamp())
    touches: list[Touch] = []
    bounces: list[Bounce] = []
    query = f"after:{epoch} -in:drafts"
    for provider_id in list_message_ids(gmail, query, limit=limit, pacer=pacer):
        headers = message_headers(gmail, provider_id, HEADERS, pacer=pacer, with_snippet=True)
        # Pass the snippet: classify falls back on it for a bounce with no
        # X-Failed-Recipients header, which it could never do when only given the headers.
        # A mail server's report is read whole: its status code is rarely in the snippet.
        text = headers.get("snippet", "")
        if is_from_daemon(headers):
            text = bounce_text(message_raw(gmail, provider_id, pacer=pacer))
        found, bounced = classify(provider_id, headers, me, contacts, text)
        touches += found
        bounces += bounced
    return touches, bounces


def bounce_text(raw: bytes) -> str:
    """A mail server's report as text: its own words and delivery-status fields ("Action:
    failed", "Status: 5.1.1"), never the returned original, whose words are ours."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return "\n".join(_report_parts(message))


def _report_parts(part: Message) -> Iterator[str]:
    kind = part.get_content_type()
    if kind in ("message/rfc822", "text/rfc822-headers"):
        return
    payload = part.get_payload()
    if kind == "message/delivery-status" and isinstance(payload, list):
        yield from (str(block) for block in payload)
    elif part.is_multipart() and isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                yield from _report_parts(sub)
    elif part.get_content_maintype() == "text":
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            try:
                yield data.decode(part.get_content_charset() or "utf-8", "replace")
            except LookupError:  # a charset Python does not know: the digits still show
                yield data.decode("latin-1")


def record(
    con: duckdb.DuckDBPyConnection, touches: Iterable[Touch], bounces: Iterable[Bounce]
) -> tuple[int, int]:
    """Store what the mailbox showed; seen before is kept as it was (idempotent)."""
    touches, bounces = list(touches), list(bounces)
    con.execute("BEGIN")
    try:
        before = _count(con)
        con.execute(
            "CREATE TEMP TABLE IF NOT EXISTS new_touches AS SELECT * FROM mailbox_touches LIMIT 0"
        )
        con.execute("DELETE FROM new_touches")
        insert_columns(
            con,
            "new_touches",
            [
                ("provider_id", "VARCHAR"),
                ("email", "VARCHAR"),
                ("direction", "VARCHAR"),
                ("touched_on", "DATE"),
                ("subject", "VARCHAR"),
                ("touched_local", "TIMESTAMP"),
            ],
            [
                (t.provider_id, t.email, t.direction, t.touched_on, t.subject, t.touched_local)
                for t in touches
            ],
        )
        # A touch read before moments were kept gets its moment now (and its day in the
        # user's zone); one already complete is kept as it was.
        con.execute(
            "INSERT INTO mailbox_touches SELECT DISTINCT ON (provider_id) * FROM new_touches "
            "ON CONFLICT (provider_id) DO UPDATE SET touched_local = excluded.touched_local, "
            "touched_on = excluded.touched_on WHERE mailbox_touches.touched_local IS NULL"
        )
        for b in bounces:
            # A bounce the user took back (`breadcrumbs unbounce`) is still in the mailbox:
            # only a newer one marks the address again.
            con.execute(
                "INSERT INTO unmailable SELECT $email, $reason, $found_on WHERE NOT EXISTS ("
                "  SELECT 1 FROM meta WHERE key = $key AND value >= $day) ON CONFLICT DO NOTHING",
                {
                    "email": b.email,
                    "reason": b.reason,
                    "found_on": b.found_on,
                    "key": UNBOUNCED + b.email,
                    "day": b.found_on.isoformat(),
                },
            )
        after = _count(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return after[0] - before[0], after[1] - before[1]


def unbounce(con: duckdb.DuckDBPyConnection, address: str) -> bool:
    """Mail `address` again (it was fixed, or the bounce was wrong). The bounces of it seen
    so far stay ignored; a later one marks it again. True if it was marked."""
    address = address.strip().lower()
    con.execute("BEGIN")
    try:
        removed = con.execute(
            "DELETE FROM unmailable WHERE email = ? RETURNING email", [address]
        ).fetchall()
        set_meta(con, UNBOUNCED + address, clock.today().isoformat())
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return bool(removed)


def _count(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    row = con.execute(
        "SELECT (SELECT count(*) FROM mailbox_touches), (SELECT count(*) FROM unmailable)"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def contact_addresses(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT DISTINCT lower(email) FROM contacts WHERE email IS NOT NULL")
    return {str(r[0]) for r in rows.fetchall()}


def run_mailbox_touches(
    workspace: Any, me: str, days: int, today: date, limit: int = 2000
) -> tuple[int, int]:
    """Read the last `days` of mail and record touches and bounces: (touches, bounces) new."""
    from datetime import timedelta

    from breadcrumbs.google.api import build_gmail
    from breadcrumbs.google.auth import credentials_for, ensure_fresh
    from breadcrumbs.store.database import open_store

    creds, save_to = credentials_for(workspace.root)
    ensure_fresh(creds, save_to)
    gmail = build_gmail(creds)
    with open_store(workspace) as con:
        contacts = contact_addresses(con)
    # Read outside the lock: listing a mailbox takes a while, and the store is not needed.
    touches, bounces = read_mailbox(gmail, me, contacts, today - timedelta(days=days), limit)
    with open_store(workspace) as con:
        return record(con, touches, bounces)
