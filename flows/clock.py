"""Today, as the whole program sees it.

`BREADCRUMBS_TODAY=YYYY-MM-DD` fixes the date for detection, the dates the store and the
ledger record, default months and the sample's dates, so tests and back-fills can play a job
search day by day. The time of day stays real, so records made on one played day still sort.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from flows.errors import BreadcrumbsError

ENV = "BREADCRUMBS_TODAY"


def today() -> date:
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return date.today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BreadcrumbsError(
            f"{ENV}={raw!r} is not a date: write it as YYYY-MM-DD, e.g. {ENV}=2026-11-03"
        ) from None


def now() -> datetime:
    """The current UTC timestamp, moved onto `today()` when the date is fixed."""
    real = datetime.now(UTC)
    fixed = today()
    if os.environ.get(ENV) and real.date() != fixed:
        return datetime.combine(fixed, real.timetz())
    return real
