"""Every email has a moment: the one rule that says whether a waiting email may still leave.

A thank-you belongs to the `thank_you_days` after its conversation, a monthly update
(`monthly:<contact>:<YYYY-MM>`) to its month; an intro has no deadline. An email that could
not leave in its moment (a full disk, an expired token, a quota) is withdrawn with the reason
this module gives, never delivered late as if on time (issue 8, defect 2). Detection's
thank-you window (detect.THANK_YOU_SQL) is the same rule seen from the other side: a
conversation is due while it still fits.
"""

from __future__ import annotations

from datetime import date

from breadcrumbs.profile import Etiquette


def month_of(key: str) -> str | None:
    """The `YYYY-MM` a monthly update's key names, or None for a key of another shape."""
    month = key.rsplit(":", 1)[-1]
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
        return None
    return month


def withdraw_reason(
    key: str, kind: str, for_date: date | None, today: date, etiquette: Etiquette
) -> str | None:
    """None while the email still fits its moment today; else why it is withdrawn."""
    if kind == "thank-you" and for_date is not None:
        late = (today - for_date).days - etiquette.thank_you_days
        if late > 0:
            return (
                f"withdrawn: the conversation on {for_date:%A, %B} {for_date.day} is more than "
                f"{etiquette.thank_you_days} days past (thank_you_days); a thank-you this late "
                "would read as if on time"
            )
    if kind == "monthly":
        month = month_of(key)
        if month is not None and month < f"{today:%Y-%m}":
            return f"withdrawn: the update for {month} could not leave before its month was over"
    return None
