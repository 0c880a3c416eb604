"""A template's parts that read the same for every email of a batch are rendered once
(compose/constant.py), and every email stays byte for byte what the full render gives.

The full render is the same Composer with the splicing switched off. Each template here is
the user's own (templates/ of a workspace): parts made of batch values (me, today, the
month's shared activity) beside and inside parts of the reader's own values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breadcrumbs.compose import constant, message
from breadcrumbs.compose.message import DEFAULT_TEMPLATES, Composer
from tests.compose_reference import PROFILES, SHARED_FULL, TODAY, compose_one, dues

MONTHLY = [d for d in dues() if d.kind == "monthly"][:12]
THANKS = [d for d in dues() if d.kind == "thank-you"][:12]

# The case the splicing must get right: a loop over the month's companies (the same for
# every reader) with the reader's own company inside it, and the reader's name next to it.
LOOP_WITH_READER = """\
Subject: {{ month.name }} update for {{ contact.first_name }}

Hi {{ contact.first_name }}, {{ me.first_name }} here.
{% for company in activity.companies %}
- {{ company }}{% if company == contact.company %} (where you work, {{ contact.first_name }})\
{% endif %}
{%- endfor %}
{% for p in prospects %}{{ loop.index }}. {{ p.company }}{% if p.role %}, {{ p.role }}{% endif %} \
for {{ contact.name }}
{% endfor %}
{%- set br = "  " %}
{% for company in activity.companies %}{{ company | upper }}{{ ", " if not loop.last }}\
{% endfor %}{{ br }}
{{ me.name }}{{ br }}
{{ contact.name }} ({{ today }})
"""


def compose_all(
    folder: Path, due_list: list[Any], spliced: bool, shared: dict[str, Any] = SHARED_FULL
) -> tuple[list[dict[str, Any]], Composer]:
    """Every due composed by one Composer (one batch), in order."""
    with pytest.MonkeyPatch.context() as patch:
        if not spliced:
            patch.setattr(message, "splice", lambda *args: None)
        dirs = (folder, DEFAULT_TEMPLATES)
        composer = Composer(PROFILES["sample"], TODAY, dirs, "outbox", shared)
        return [compose_one(composer, due) for due in due_list], composer


def parts(composer: Composer, name: str) -> int:
    """How many parts of the loaded template were rendered once for the batch."""
    template = composer._templates[name]
    return sum(1 for key in template.globals if key.startswith("_bc_part_"))


def write(tmp_path: Path, kind: str, source: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / f"{kind}.md.j2").write_text(source, encoding="utf-8")
    return folder


def test_a_batch_constant_loop_beside_the_readers_own_values_renders_as_the_full_render(
    tmp_path: Path,
) -> None:
    folder = write(tmp_path, "monthly", LOOP_WITH_READER)
    spliced, composer = compose_all(folder, MONTHLY, spliced=True)
    full, _ = compose_all(folder, MONTHLY, spliced=False)
    assert parts(composer, "monthly.md.j2") >= 2  # the signature and the upper-case list
    assert spliced == full
    # Both sides of the check: Acme's reader is told so, and nobody else is.
    acme = [c for d, c in zip(MONTHLY, spliced, strict=True) if d.company == "Acme"]
    assert acme and all("(where you work," in c["text"] for c in acme if "text" in c)
    assert "ACME, GLOBEX & SONS" in spliced[1]["text"]


def test_the_bundled_templates_are_rendered_in_parts_and_say_the_same(tmp_path: Path) -> None:
    """The monthly update's shared paragraphs and every kind's signature are rendered once."""
    folder = tmp_path / "none"
    folder.mkdir()
    batch = [*MONTHLY, *THANKS, *[d for d in dues() if d.kind == "intro"][:12]]
    spliced, composer = compose_all(folder, batch, spliced=True)
    full, _ = compose_all(folder, batch, spliced=False)
    assert spliced == full
    for name in ("monthly.md.j2", "thank-you.md.j2", "intro.md.j2"):
        assert parts(composer, name) >= 1


# Templates the splicing must leave alone, or splice without changing a byte: a value
# changed by the template itself, chance, a name set per reader, set twice, or used before
# its `set`, macros, includes, a failing part, and the token text itself.
UNUSUAL = {
    "pop": "Subject: x\n\n{{ activity.companies.pop() if activity.companies else 'none' }} "
    "/ {% for c in activity.companies %}{{ c }} {% endfor %}{{ contact.name }}\n",
    "getitem-call": "Subject: x\n\n{% for c in activity.companies %}{{ c }} {% endfor %}"
    "{{ activity.companies['append']('more') }}{{ contact.name }}\n",
    "set-per-reader": "Subject: x\n\n{% set sep = ', ' %}{% if contact.company %}"
    "{% set sep = ' / ' %}{% endif %}{% for c in activity.companies %}{{ c }}{{ sep }}"
    "{% endfor %}{{ contact.name }}\n",
    "shadowed": "Subject: x\n\n{% for c in activity.companies %}{{ c }} {% endfor %}"
    "{% set activity = {'companies': [contact.name]} %}"
    "{% for c in activity.companies %}{{ c }} {% endfor %}\n",
    "used-before-set": "Subject: x\n\n{% for c in activity.companies %}{{ c }}"
    "{{ tail is defined }}{% endfor %}{% set tail = '!' %}{{ tail }}{{ contact.name }}\n",
    "loop-var-named-like-batch": "Subject: x\n\n{% for me in prospects %}{{ me.company }}"
    "{% endfor %} {{ me.name }} {{ contact.name }}\n",
    "macro": "Subject: x\n\n{% macro sig() %}{{ me.name }} for {{ contact.name }}{% endmacro %}"
    "{% for c in activity.companies %}{{ c }} {% endfor %}{{ sig() }}\n",
    "failing-part": "Subject: x\n\n{{ contact.name }}: {{ activity.nothing }}\n",
    "failing-for-some": "Subject: x\n\n{% for c in activity.companies %}{{ c }} {% endfor %}"
    "{{ referred[0].name }}\n",
    "token-text": "Subject: x\n\nbctok0x {{ contact.name }} {{ me.name }} bctok1x\n",
    "filter-block": "Subject: x\n\n{% filter upper %}{{ me.name }} {{ activity.days }}"
    "{% endfilter %} {{ contact.name }}\n",
    "autoescape-off": "Subject: x\n\n{% autoescape false %}{{ activity.companies[2] }}"
    "{% endautoescape %} {{ activity.companies[2] }} {{ contact.name }}\n",
    "loop-in-reader-loop": "Subject: x\n\n{% for r in referred %}{{ r.name }}: "
    "{% for c in activity.companies %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}"
    "\n{% endfor %}{{ contact.name }}\n",
    "markup": "Subject: x\n\n{{ activity.companies | join(', ') }} | {{ me.name | e }} "
    "{{ '<b>' | safe }}{{ contact.name }}\n",
}


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_templates_say_what_the_full_render_says(tmp_path: Path, name: str) -> None:
    folder = write(tmp_path, "monthly", UNUSUAL[name])
    spliced, _ = compose_all(folder, MONTHLY, spliced=True)
    full, _ = compose_all(folder, MONTHLY, spliced=False)
    assert spliced == full


def test_a_template_that_changes_a_batch_value_is_not_spliced(tmp_path: Path) -> None:
    """`activity.companies.pop()` makes each email's list shorter than the last one's."""
    folder = write(tmp_path, "monthly", UNUSUAL["pop"])
    spliced, composer = compose_all(folder, MONTHLY[:3], spliced=True)
    assert parts(composer, "monthly.md.j2") == 0
    assert [c["text"].split(" / ")[0] for c in spliced] == [
        "Zoë's *Café*",
        "<b>Initech</b>",
        "Globex & Sons",
    ]


def constant_parts(source: str) -> int:
    """How many parts of `source` would be rendered once (with a batch that renders them)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    tree = env.parse(source)
    names = frozenset({"me", "today", "activity", "prospects", "referral_companies"})

    def prerender(part: jinja2.nodes.Template) -> tuple[str, list[tuple[str, str]]]:
        return "bctok0x", [("value", "value")]  # as if rendered: one value

    done = constant.splice(tree, names, prerender, "_bc_part_")
    return 0 if done is None else len(done[1])


@pytest.mark.parametrize(
    "source",
    [
        "{% for c in activity.companies %}{{ c | random }}{% endfor %}",
        "{{ lipsum() }}",
        "{{ activity.companies | map('upper') | join }}",
        "{% for c in activity.companies %}{{ c }}{{ contact.name }}{% endfor %}",
        "{% set x = contact.name %}{{ x }}",
        "{% include 'other.j2' %}{{ me.name }}",
        "{% extends 'base.j2' %}{% block b %}{{ me.name }}{% endblock %}",
        "{{ self }}",
        "{% for c in activity.companies recursive %}{{ loop([]) }}{% endfor %}",
        "{% with x = me.name %}{{ x }}{% endwith %}",
        "{{ activity.companies.sort() }}{{ me.name }}",
        "{{ caller is defined }}",
    ],
)
def test_parts_with_chance_reader_values_or_context_tricks_are_not_constant(source: str) -> None:
    assert constant_parts(source) == 0


@pytest.mark.parametrize(
    "source",
    [
        "{% for c in activity.companies %}{{ loop.index }}. {{ c | upper }}{% endfor %}",
        "{{ me.signature.strip().splitlines() | join(', ') }}",
        "{% set br = '  ' %}{{ me.name }}{{ br }}",
        "{% if activity.days > 10 %}{{ activity.days }} days{% else %}lately{% endif %}",
        "{% for p in prospects if p.role %}{{ p.company }}{% endfor %}",
        "{{ today.strftime('%B') }} {{ range(3) | list }} {{ dict(a=me.name) }}",
    ],
)
def test_parts_of_batch_values_alone_are_constant(source: str) -> None:
    assert constant_parts(source) == 1


FRAGMENTS = [
    "{{ contact.first_name }} ",
    "{{ me.name }}",
    "{{ br }}\n",
    "{% set br = '  ' %}",
    "{% set sep = ', ' %}",
    "{% if contact.company %}{% set sep = '; ' %}{% endif %}",
    "{% for c in activity.companies %}{{ c }}{{ sep if sep is defined else '/' }}{% endfor %}",
    "{% for c in activity.companies %}{% if c == contact.company %}*{% endif %}{{ c }}"
    "{% endfor %}\n",
    "{% for p in prospects %}{{ loop.index }} {{ p.company }}{{ ', ' if not loop.last }}"
    "{% endfor %}\n\n",
    "{% if activity.conversations %}{{ activity.conversations }} talks{% endif %}. ",
    "{% for r in referred %}{{ r.name }} {{ me.first_name }} {{ activity.days }}\n{% endfor %}",
    "{% if last_conversation.topic %}{{ me.looking_for | trim }}{% else %}-{% endif %}\n",
    "{{ activity.companies | join(' & ') }}\n",
    "**{{ me.first_name }}** and *{{ contact.name }}*\n\n",
    "- {{ today }} {{ month.name }}\n",
    "{% for c in referral_companies %}{% for d in activity.companies %}{{ c }}{{ d }}"
    "{% endfor %}{% endfor %}\n",
    "{% set count = activity.days * 2 %}{{ count }} ",
    "{{ activity.companies.pop() if contact.name == 'Eve' else '' }}",
    "{{ activity.missing }}",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8))
def test_any_mix_of_batch_and_reader_parts_says_what_the_full_render_says(
    tmp_path_factory: pytest.TempPathFactory, fragments: list[str]
) -> None:
    folder = write(
        tmp_path_factory.mktemp("mix"),
        "monthly",
        "Subject: {{ month.name }} from {{ me.first_name }}\n\n" + "".join(fragments) + "\nEnd\n",
    )
    spliced, _ = compose_all(folder, MONTHLY[:6], spliced=True)
    full, _ = compose_all(folder, MONTHLY[:6], spliced=False)
    assert spliced == full


def test_a_part_is_numbered_from_where_each_emails_values_stand() -> None:
    """The same part after one value or after three: its tokens move up by as many."""
    part = constant.Splice("a bctok0x b bctok1x", [("x", "x"), ("y", "y")])
    raw: list[tuple[str, str]] = [("v", "v")]
    assert part.emit(raw) == "a bctok1x b bctok2x"
    raw = [("v", "v")] * 3
    assert part.emit(raw) == "a bctok3x b bctok4x"
    assert raw[3:] == [("x", "x"), ("y", "y")]
