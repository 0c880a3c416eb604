"""The one small interface every mailer implements (outbox, Gmail drafts, Gmail send).

The ledger (flows/ledger.py) decides *whether* an email may go; a mailer only knows *how*.
A mailer never retries a delivery on its own: an outcome it cannot be sure of is raised as
DeliveryUnknown, and the next run calls `find_delivered` before anything is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

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


@dataclass(frozen=True)
class Delivery:
    state: DeliveredState
    provider_id: str | None = None  # Gmail message or draft id; outbox file name
    stored_message_id: str | None = None  # the Message-ID the provider kept, if it says


class Mailer(Protocol):
    mode: Mode

    def deliver(self, email: OutgoingEmail) -> Delivery:
        """Deliver once. Raises DeliveryUnknown (may have left), DeliveryFailed, QuotaExhausted
        or AuthError (the last three: certainly not delivered)."""
        ...

    def find_delivered(self, email: OutgoingEmail) -> Delivery | None:
        """Look an earlier, uncertain delivery up; None means it certainly did not land."""
        ...
