"""The one small interface every mailer implements (outbox, Gmail drafts, Gmail send).

The ledger (store/ledger.py) decides *whether* an email may go; a mailer only knows *how*.
A mailer never retries a delivery on its own: an outcome it cannot be sure of is raised as
DeliveryUnknown, and the next run calls `find_delivered` before anything is sent again.
"""

from __future__ import annotations

from typing import Protocol

from breadcrumbs.records import Delivery, Mode, OutgoingEmail


class Mailer(Protocol):
    mode: Mode

    def deliver(self, email: OutgoingEmail) -> Delivery:
        """Deliver once. Raises DeliveryUnknown (may have left), DeliveryFailed, QuotaExhausted
        or AuthError (the last three: certainly not delivered)."""
        ...

    def find_delivered(self, email: OutgoingEmail) -> Delivery | None:
        """Look an earlier, uncertain delivery up; None means it certainly did not land."""
        ...
