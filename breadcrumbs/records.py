"""The records that pass between stages: a due email, the email composed from it, and the
outgoing message a mailer delivers.

They live apart from the stages so that every stage may import them and no stage imports
another sideways: detect makes `Due`, compose makes `Composed`, the ledger and the mailers
take `OutgoingEmail`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Mode = Literal["outbox", "drafts", "send"]
DeliveredState = Literal["written", "drafted", "sent"]


@dataclass(frozen=True)
class OutgoingEmail:
    key: str  # the ledger key, e.g. "thank-you:i:3f2a..." — also names outbox files
    to_addr: str  # the bare recipient address, already validated
    subject: str
    message_id: str  # "<...@...>", deterministic per ledger row
    raw: bytes  # the complete RFC 5322 message, CRLF line endings
    planned_at: datetime  # when the ledger row was created (UTC), bounds mailbox searches
    # Outbox only: the file name the ledger recorded when it planned the email without its
    # message (store/ledger.py plan); None: the name comes from the message itself.
    file_name: str | None = None


@dataclass(frozen=True)
class Delivery:
    state: DeliveredState
    provider_id: str | None = None  # Gmail message or draft id; outbox file name
    stored_message_id: str | None = None  # the Message-ID the provider kept, if it says


@dataclass(frozen=True)
class Due:
    """One email the rules say should go now, with everything its template may use."""

    key: str
    kind: str  # "thank-you" | "intro" | "monthly"
    contact_id: str
    email: str
    name: str
    first_name: str
    company: str = ""
    title: str = ""
    for_date: date | None = None  # the conversation's date, for thank-yous
    conversation_kind: str = ""
    topic: str = ""
    referrals: tuple[str, ...] = ()
    referrer_name: str = ""
    referrer_first_name: str = ""
    referrer_company: str = ""
    reason: str = ""  # why it is due, in words, for `breadcrumbs due`
    # Monthly updates: the month ("YYYY-MM"; for_date is its first day), the last
    # conversation (its kind and topic above), and the people this reader referred that
    # something came of lately: (name, talked on, written to on), the days as ISO text or ""
    # (plain strings, so the ledger's JSON copy of a Due gives them back as they were).
    month: str = ""
    last_talked_on: date | None = None
    referred: tuple[tuple[str, str, str], ...] = ()


@dataclass
class Composed:
    due: Due
    email: OutgoingEmail
    text: str
    html: str = field(repr=False)


@dataclass(slots=True)
class Reject:
    """A refused row or cell, a merged conflict or a warning: file, row, column and why.
    Here, not in validate.py, because a follow-up reports the last sync's rejects without
    validating anything (and without importing email-validator)."""

    file: str
    row: int
    column: str
    value: str
    reason: str
    severity: str  # "row" refused, "cell" refused, "conflict" merged, "warning" loaded
