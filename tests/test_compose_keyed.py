"""Emails filled into their key's shape without Jinja (compose/keyed.py) are byte for byte
what Jinja's render of each email gives, and a template the analysis cannot follow is
rendered by Jinja as before.

"Jinja's render" is the same Composer with the keyed path switched off (`Composer.keyed_on`);
the keyed side makes a key's shape at the key's first email (`keyed_after = 0`), so every
email of a batch that can take the keyed path takes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breadcrumbs.compose import keyed, message, mime
from breadcrumbs.compose.constant import PER_EMAIL
from breadcrumbs.compose.message import DEFAULT_TEMPLATES, Composer
from tests import compose_reference
from tests.compose_reference import PROFILES, SHARED_FULL, TODAY, compose_one, dues

ALL = [d for d in dues() if d.kind != "unknown-kind"]
THANKS = [d for d in ALL if d.kind == "thank-you"]
MONTHLY = [d for d in ALL if d.kind == "monthly"]


class Counted(Composer):
    """A Composer that counts the emails the keyed path filled."""

    filled = 0

    def _keyed(self, *args: Any) -> Any:
        done = super()._keyed(*args)
        self.filled += done is not None
        return done


def compose_all(
    folder: Path | None, due_list: list[Any], keyed_on: bool, after: int = 0
) -> tuple[list[dict[str, Any]], Counted]:
    """Every due composed by one Composer (one batch), in order, twice over: the second
    round finds every key's shape made."""
    dirs = (folder, DEFAULT_TEMPLATES) if folder else (DEFAULT_TEMPLATES,)
    composer = Counted(PROFILES["sample"], TODAY, dirs, "outbox", SHARED_FULL)
    composer.keyed_on = keyed_on
    composer.keyed_after = after
    return [_composed(composer, due) for due in [*due_list, *due_list]], composer


def _composed(composer: Composer, due: Any) -> dict[str, Any]:
    """compose_one, or the exception it raised (a template with the token text in it
    fails in Jinja's render as well: both sides must fail alike)."""
    try:
        return compose_one(composer, due)
    except Exception as exc:
        return {"error": repr(exc)}


def write(tmp_path: Path, kind: str, source: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / f"{kind}.md.j2").write_text(source, encoding="utf-8")
    return folder


def test_every_reference_case_filled_by_key_is_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 1,123 reference cases (every kind, mode, sender and shared context; values with
    markup, placeholders, header smuggling, blanks) with every email filled by key."""
    monkeypatch.setattr(message.Composer, "keyed_after", 0)
    filled = []
    original = message.Composer._keyed

    def counting(self: Composer, *args: Any) -> Any:
        done = original(self, *args)
        filled.append(done is not None)
        return done

    monkeypatch.setattr(message.Composer, "_keyed", counting)
    now = compose_reference.run_cases()
    reference = compose_reference.load()
    assert sorted(now) == sorted(reference)
    differing = [name for name in reference if now[name] != reference[name]]
    assert differing == []
    assert sum(filled) > 1000  # the keyed path is what composed them


def test_a_batch_of_one_shape_is_filled_by_key_from_its_second_email() -> None:
    """The bench's batch: forty alike. The first email of a key goes through Jinja, the
    second makes the shape, the rest are filled; each with its own person's values."""
    bulk = [d for d in THANKS if d.key.startswith("thank-you:i:bulk")]
    assert len(bulk) == 40
    filled, composer = compose_all(None, bulk, keyed_on=True, after=1)
    full, _ = compose_all(None, bulk, keyed_on=False)
    assert filled == full
    assert composer.filled >= 2 * 40 - 4  # two keys (with and without a topic)
    assert "Hi First7," in filled[7]["text"] and "First7" in filled[7]["subject"]


# Templates of a user's own: per-email values printed, tested, filtered, compared, looped
# over, bound to other names, printed whole; and constructs the analysis refuses.
USERS = {
    "printed-and-tested": "Subject: Hi {{ contact.first_name }}\n\n"
    "{% if contact.company %}At {{ contact.company }}.{% else %}Nowhere.{% endif %}\n"
    "{% if conversation.topic %}About {{ conversation.topic }}.{% endif %}\n",
    "filtered": "Subject: {{ contact.first_name | upper }}\n\n{{ contact.name | title }} "
    "{{ conversation.topic | trim | truncate(20) }} {{ contact.company | length }}\n",
    "compared": "Subject: x\n\n{% if contact.company == 'Acme' %}Acme!{% endif %}"
    "{% if conversation.kind | lower == 'coffee' %}coffee{% endif %} {{ contact.first_name }}\n",
    "negated": "Subject: x\n\n{% if not contact.company %}none{% endif %} {{ contact.company }}\n",
    "cond-expr": "Subject: x\n\n{{ contact.company if contact.company else 'n/a' }} "
    "{{ 'yes' if conversation.topic }}\n",
    "concat": "Subject: x\n\n{{ contact.first_name ~ '!' }} {{ contact.first_name + '?' }}\n",
    "set-from-value": "Subject: x\n\n{% set who = contact.first_name %}{{ who }} "
    "{% set n = referrals | length %}{{ n }}\n",
    "referral-loop": "Subject: x\n\n{% for p in referrals %}{{ loop.index }}. {{ p.name }}"
    "{{ ', ' if not loop.last }}{% else %}none{% endfor %} for {{ contact.first_name }}\n",
    "whole-root": "Subject: x\n\n{{ contact }} {{ referrals }}\n",
    "dict-method": "Subject: x\n\n{% for k, v in contact.items() %}{{ k }}={{ v }} {% endfor %}"
    "{{ contact.get('company', '-') }}\n",
    "item": "Subject: x\n\n{{ contact['first_name'] }} {{ contact.first_name }}\n",
    "date-printed": "Subject: x\n\n{{ conversation.date }} {{ conversation.when }} {{ today }}\n",
    "date-method": "Subject: x\n\n{{ conversation.date.year if conversation.date }}\n",
    "defined": "Subject: x\n\n{% if contact.nickname is defined %}{{ contact.nickname }}"
    "{% endif %}{{ contact.first_name }}\n",
    "undefined-field": "Subject: x\n\n{{ contact.nickname }}\n",
    "undefined-name": "Subject: x\n\n{{ nobody.name }} {{ contact.first_name }}\n",
    "macro": "Subject: x\n\n{% macro hi(n) %}Hi {{ n }}{% endmacro %}"
    "{{ hi(contact.first_name) }}\n",
    "autoescape-off": "Subject: x\n\n{% autoescape false %}{{ contact.name }}{% endautoescape %}"
    " {{ contact.name }}\n",
    "random": "Subject: x\n\n{{ [contact.first_name] | random }}\n",
    "shadow": "Subject: x\n\n{% for contact in referrals %}{{ contact.name }}{% endfor %}"
    "{% set conversation = 1 %}{{ conversation }}\n",
    "filter-block": "Subject: x\n\n{% filter upper %}{{ contact.first_name }}{% endfilter %}\n",
    "set-block": "Subject: x\n\n{% set s %}{{ contact.first_name }}{% endset %}{{ s }}\n",
    "placeholder-left": "Subject: x\n\nHi {% raw %}{{ first_name }}{% endraw %} "
    "{{ contact.first_name }}\n",
    "placeholder-const": "Subject: x\n\nHi {{ '{{' }} first_name }} {{ contact.first_name }}\n",
    "token-text": "Subject: x\n\nbctok0x {{ contact.first_name }} bctok1x\n",
    "probe-text": "Subject: x\n\n\ue000bcprobe0\ue001 {{ contact.first_name }}\n",
    "markup": "Subject: x\n\n**{{ contact.first_name }}** [{{ contact.company }}](http://x) "
    "{{ contact.name | e }} {{ '<b>' | safe }} {{ contact.name | safe }}\n",
    "printed-twice": "Subject: {{ contact.first_name }} {{ contact.first_name }}\n\n"
    "{{ contact.first_name }}{{ contact.company }}{{ contact.first_name }}\n",
    "subject-missing": "Hello {{ contact.first_name }}\n\nbody\n",
    "empty-body": "Subject: {{ contact.first_name }}\n\n{{ contact.title }}\n",
    "trailing-space": "Subject: x\n\n{{ contact.first_name }}   \n{{ conversation.topic }}\t\n",
    "mutation": "Subject: x\n\n{{ referrals.append(1) }}{{ contact.first_name }}\n",
    "shared-values": "Subject: x\n\n{% for c in activity.companies %}{{ c }}"
    "{% if c == contact.company %}*{% endif %} {% endfor %}{{ contact.first_name }}\n",
}


@pytest.mark.parametrize("name", sorted(USERS))
def test_a_users_template_filled_by_key_says_what_jinja_says(tmp_path: Path, name: str) -> None:
    folder = write(tmp_path, "thank-you", USERS[name])
    filled, _ = compose_all(folder, THANKS, keyed_on=True)
    full, _ = compose_all(folder, THANKS, keyed_on=False)
    assert filled == full


def test_an_unfilled_placeholder_is_still_refused_when_filled_by_key(tmp_path: Path) -> None:
    folder = write(tmp_path, "thank-you", USERS["placeholder-left"])
    filled, composer = compose_all(folder, THANKS, keyed_on=True)
    assert composer.filled > 0
    assert all("unfilled placeholder" in case["refused"] for case in filled)


@pytest.mark.parametrize(
    ("source", "paths"),
    [
        ("{{ contact.first_name }}", {("contact", "first_name", keyed.OUTPUT)}),
        (
            "{% if contact.company %}{{ contact.company }}{% endif %}",
            {("contact", "company", keyed.OUTPUT | keyed.TRUTH)},
        ),
        ("{% if conversation.topic %}x{% endif %}", {("conversation", "topic", keyed.TRUTH)}),
        ("{{ contact.name | upper }}", {("contact", "name", keyed.VALUE)}),
        ("{% if not contact.name %}x{% endif %}", {("contact", "name", keyed.VALUE)}),
        (
            "{{ contact.name }}{{ contact.name ~ '' }}",
            {("contact", "name", keyed.OUTPUT | keyed.VALUE)},
        ),
        ("{% for p in referrals %}{{ p.name }}{% endfor %}", {("referrals", None, keyed.VALUE)}),
        ("{{ me.name }} {{ today }} {{ range(2) | list }}", set()),
    ],
)
def test_what_a_template_reads_per_email_and_how(source: str, paths: set[Any]) -> None:
    tree = jinja2.Environment().parse(source)
    analysis = keyed.analyse(tree, PER_EMAIL, {"me", "today", "range", "dict"})
    assert analysis is not None
    assert set(analysis.paths) == paths


@pytest.mark.parametrize(
    "source",
    [
        "{% macro m() %}{% endmacro %}{{ contact.name }}",
        "{% include 'x' %}",
        "{{ contact.name | random }}",
        "{{ lipsum() }}",
        "{{ contact.name | map('upper') | list }}",
        "{% for contact in referrals %}{% endfor %}",
        "{% set contact = 1 %}",
        "{{ somebody }}",
        "{{ referrals.append(1) }}",
        "{% autoescape false %}{{ contact.name }}{% endautoescape %}",
        "{% filter upper %}{{ contact.name }}{% endfilter %}",
        "{% with x = contact.name %}{{ x }}{% endwith %}",
        "bctok0x{{ contact.name }}",
        "{{ self }}",
        "{{ cycler(1, 2).next() }}",
    ],
)
def test_templates_the_analysis_cannot_follow_go_through_jinja(source: str) -> None:
    tree = jinja2.Environment().parse(source)
    assert keyed.analyse(tree, PER_EMAIL, {"me", "today", "range", "dict"}) is None


FRAGMENTS = [
    "{{ contact.first_name }} ",
    "{{ contact.company }}",
    "{% if contact.company %}at {{ contact.company }}{% endif %}\n",
    "{% if conversation.topic %}{{ conversation.topic }}{% else %}-{% endif %}\n",
    "{{ conversation.when }} ",
    "{{ conversation.kind | lower }} ",
    "{% set k = conversation.kind | lower %}{{ {'coffee': 'c'}.get(k, 'other') }} ",
    "{% for p in referrals %}{{ p.name }}{{ ', ' if not loop.last }}{% endfor %}\n",
    "{% if referrals %}{{ referrals | length }} referrals{% endif %}\n",
    "**{{ contact.name }}**\n\n",
    "{{ me.name }}{{ '  ' }}\n",
    "{% for c in activity.companies %}{{ c }}{% if c == contact.company %}!{% endif %}"
    "{% endfor %}\n",
    "{{ contact.title if contact.title else '' }}",
    "- {{ contact.email }}\n",
    "{{ conversation.date }}\n",
    "{{ contact.first_name ~ contact.company }}\n",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8),
    st.sampled_from([0, 1]),
)
def test_any_mix_of_printed_tested_and_steering_values_says_what_jinja_says(
    tmp_path_factory: pytest.TempPathFactory, fragments: list[str], after: int
) -> None:
    folder = write(
        tmp_path_factory.mktemp("mix"),
        "thank-you",
        "Subject: Hi {{ contact.first_name }}\n\n" + "".join(fragments) + "\nEnd\n",
    )
    filled, _ = compose_all(folder, THANKS, keyed_on=True, after=after)
    full, _ = compose_all(folder, THANKS, keyed_on=False)
    assert filled == full


def test_monthly_updates_filled_by_key_say_what_jinja_says() -> None:
    filled, composer = compose_all(None, MONTHLY, keyed_on=True)
    full, _ = compose_all(None, MONTHLY, keyed_on=False)
    assert filled == full
    assert composer.filled > len(MONTHLY)


_WORDS = st.text(alphabet=" \t\nab=.é\u00a0-", max_size=90)
_VALUES = st.text(alphabet=" \tab=é<&-", min_size=1, max_size=90)


@settings(max_examples=300, deadline=None)
@given(
    _WORDS,
    st.lists(st.tuples(st.integers(0, 2), _WORDS), max_size=6),
    st.lists(_VALUES, min_size=3, max_size=3),
    st.booleans(),
)
def test_a_part_planned_by_line_is_its_text_and_encoding_as_mime_gives_them(
    first: str, rest: list[tuple[int, str]], values: list[str], strip: bool
) -> None:
    """keyed.plan_lines and the composer's fill of it against the filled text encoded
    whole by mime.qp (and strip_trailing_space for the text part): long lines (soft breaks),
    trailing spaces and tabs, '=' and non-ASCII, values at a line's start, end, or alone."""
    baked = (first, tuple(rest))
    plan = keyed.plan_lines(baked, strip, mime.qp_line)
    pairs = [(v, v.replace("&", "&amp;")) for v in values]
    side = 0 if strip else 1
    whole = message._join(baked, pairs, side)
    if plan is None:
        assert whole.count("\n") < 2
        return
    text, encoded = message._fill_lines(plan, pairs, side, strip)
    expected = message.strip_trailing_space(whole) if strip else whole
    assert text == expected
    assert encoded == mime.qp(expected)
