"""A reason that lists things names the first five and counts the rest (breadcrumbs/reasons.py)."""

from __future__ import annotations

from breadcrumbs.reasons import few


def test_up_to_five_things_are_all_named_as_before() -> None:
    assert few(["a"]) == "a"
    assert few(["a", "b"]) == "a, b"
    assert few(["a", "b", "c", "d", "e"]) == "a, b, c, d, e"
    assert few(["a"], "or") == "a"
    assert few(["a", "b", "c"], "or") == "a, b or c"


def test_past_five_the_rest_are_counted() -> None:
    twelve = [f"p{i}" for i in range(12)]
    assert few(twelve) == "p0, p1, p2, p3, p4 and 7 others"
    assert few(twelve, "or") == "p0, p1, p2, p3, p4 or 7 others"
    assert few(twelve[:6]) == "p0, p1, p2, p3, p4 and 1 other"
