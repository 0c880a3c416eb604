"""Reject reasons that list things list a few: a report line stays readable (issue 11).

A name a thousand contacts share made each of its rejects name all thousand; at 1M
conversations the rejects carried 432 MB of such text. A reason names the first `FEW` and
says how many others there are; the count of all stays in the reason's own words.
"""

from __future__ import annotations

from collections.abc import Iterable

FEW = 5


def few(items: Iterable[str], last: str = "") -> str:
    """The first FEW items, comma-separated, then "and N others" for the rest.

    `last` ("or") joins the final item when all are named ("a, b or c"), and the others
    when not ("a, b, c, d, e or 7 others"); by default the items are joined by commas only
    ("a, b") and the rest are "and N others".
    """
    names = list(items)
    if len(names) > FEW:
        word = last or "and"
        rest = len(names) - FEW
        return f"{', '.join(names[:FEW])} {word} {rest} other{'s' if rest > 1 else ''}"
    if last and len(names) > 1:
        return f"{', '.join(names[:-1])} {last} {names[-1]}"
    return ", ".join(names)
