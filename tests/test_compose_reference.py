"""Every email byte for byte what main composed before compose was made faster (issue 11).

tests/compose_reference.py composes a varied set (the sample sender and sparse and
international ones; plain, international, quoted, Markdown, markup, placeholder and
header-smuggling values; IDN domains; every kind, mode and shared monthly context), and
tests/fixtures/compose-reference.json.gz holds what main composed from it: the raw message,
its parts, its outbox file name, the ledger's JSON of its Due, or the refusal's words.
"""

from __future__ import annotations

import difflib

import pytest

from tests import compose_reference

Cases = dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def results() -> tuple[Cases, Cases]:
    return compose_reference.load(), compose_reference.run_cases()


def test_the_same_cases_are_composed(results: tuple[Cases, Cases]) -> None:
    reference, now = results
    assert sorted(now) == sorted(reference)
    # Refusals are part of the reference: each header-smuggling value must still be refused.
    assert sum(1 for c in reference.values() if "refused" in c) > 100


def test_every_email_is_byte_for_byte_the_reference(results: tuple[Cases, Cases]) -> None:
    reference, now = results
    differing = [name for name in reference if now.get(name) != reference[name]]
    if differing:
        name = differing[0]
        want, got = reference[name], now.get(name, {})
        lines: list[str] = []
        for field in sorted(set(want) | set(got)):
            if want.get(field) != got.get(field):
                lines += difflib.unified_diff(
                    str(want.get(field)).splitlines(),
                    str(got.get(field)).splitlines(),
                    f"{field} (reference)",
                    f"{field} (now)",
                    lineterm="",
                )
        pytest.fail(
            f"{len(differing)} of {len(reference)} emails differ; first: {name}\n"
            + "\n".join(lines[:60])
        )
