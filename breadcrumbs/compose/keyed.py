"""Emails of one shape filled in without running Jinja per email (issue 11).

Ten thousand thank-yous differ in a few values (the first name, the day, the topic); the
rest of each email (which branch of each `{% if %}` is taken, the kind's words, the
signature) is decided by a handful of facts about those values. This module reads the
template's syntax tree to find, for every per-email value the template reads
(`contact.first_name`), how it is used:

- **output**: only ever printed as it is (`{{ contact.first_name }}`): it reaches the email
  only through the composer's finalize hook, which makes it a token of the skeleton
  whatever its text (a non-blank str), so only whether it is such a str steers the render;
- **truth**: only ever the test of an `{% if %}` (`{% if conversation.topic %}`): only its
  truth steers the render;
- **value**: anything else (a filter's argument, a comparison, a loop's list, `set`): its
  whole value steers the render.

An email's *key* is, for each such value, what steers the render: the whole value, its
truth, or "a printed non-blank str". Two emails with the same key render the same skeleton
with the same values in it, except the printed ones. So the first time a key comes back, the
template is rendered once through Jinja with each printed value replaced by a probe (a
unique non-blank str), which shows which of the skeleton's tokens are which printed value;
every other token's value is the same for every email of that key. From then on an email of
that key is the skeleton's text with its own printed values joined in: the same text, HTML
and subject as the full render (tests/test_compose_keyed.py compares the two).

A template is handled only when every node of it is of a kind this reasoning covers
(outputs, `if`, `for`, `set`, names, attributes, items, constants, operators, and filters,
tests and calls that change nothing and involve no chance); it binds no per-email name of
its own; and every name it reads is a per-email value, a value of the batch (the same plain
data for every email), a name it binds itself, or a part rendered once for the batch
(compose/constant.py). Any other template, and any email whose values are not what the
analysis assumed (a missing field, a value of an unusual type), goes through Jinja as
before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from jinja2 import nodes

from breadcrumbs.compose.constant import (
    PLAIN_NODES,
    PURE_FILTERS,
    PURE_FUNCTIONS,
    PURE_METHODS,
    PURE_TESTS,
)

# The nodes a handled template may hold: a constant part's plain ones, and the names,
# loops and assignments that carry per-email values (Filter, Test and Call are checked on
# their own).
_ALLOWED = (
    *PLAIN_NODES,
    nodes.Template,
    nodes.For,
    nodes.Assign,
    nodes.Name,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
)

OUTPUT, TRUTH, VALUE = 1, 2, 4
_MISSING = object()
PRINTED = object()  # a key's mark for "a printed non-blank str"
_SCALARS = (str, int, float, bool, type(None), date, datetime)

# A value the probe stands for: unique, non-blank, and unchanged by HTML escaping.
PROBE = "\ue000bcprobe{}\ue001"
PROBE_MARK = "bcprobe"


class Analysis:
    """What a template reads per email, and how: a list of (root, attribute, uses), the
    attribute None for a root read as a whole."""

    def __init__(self, paths: list[tuple[str, str | None, int]]) -> None:
        self.paths = paths
        # shape key -> the baked shape; None: this key cannot be filled without Jinja
        self.shapes: dict[tuple[Any, ...], Any] = {}
        self.seen: set[tuple[Any, ...]] = set()

    def key(self, context: dict[str, Any], fields: Any) -> tuple[tuple[Any, ...], list[Any]] | None:
        """The email's key and its printed values (one per printed path, in order; None
        for a printed path that is not a non-blank str this time), or None when a value is
        not what the analysis assumed (missing, of another type): then Jinja renders it."""
        key: list[Any] = []
        printed: list[Any] = []
        for root, attribute, uses in self.paths:
            value: Any = context.get(root, _MISSING)
            if attribute is not None:
                if type(value) is not fields:
                    return None
                value = value.get(attribute, _MISSING)
            if value is _MISSING:
                return None
            if uses == OUTPUT or uses == OUTPUT | TRUTH:
                if type(value) is str and value.strip(" \t"):
                    key.append(PRINTED)
                    printed.append(value)
                    continue
                printed.append(None)
            elif uses == TRUTH:
                if not isinstance(value, _SCALARS):
                    return None
                key.append(bool(value))
                continue
            frozen = freeze(value, fields)
            if frozen is _MISSING:
                return None
            key.append(frozen)
        return tuple(key), printed


def freeze(value: Any, fields: Any) -> Any:
    """A hashable stand-in for a value that equals another's only when the two render
    alike (its type is part of it: True and 1 print differently); _MISSING if unknown."""
    if isinstance(value, _SCALARS):
        return (type(value), value)
    if type(value) is fields:
        items = tuple((k, freeze(v, fields)) for k, v in value.items())
        return _MISSING if any(v is _MISSING for _, v in items) else (fields, items)
    if type(value) is list or type(value) is tuple:
        frozen = tuple(freeze(v, fields) for v in value)
        return _MISSING if any(v is _MISSING for v in frozen) else (type(value), frozen)
    return _MISSING


def analyse(
    tree: nodes.Template, per_email: Iterable[str], readable: Iterable[str]
) -> Analysis | None:
    """The template's per-email reads, or None when it is not of a shape handled here.
    `per_email`: the names whose values differ from email to email; `readable`: the other
    names it may read (the batch's plain values, the parts rendered once, range/dict)."""
    per_email = frozenset(per_email)
    parents: dict[int, tuple[nodes.Node, str]] = {}
    stored: set[str] = set()
    loaded: list[nodes.Name] = []
    for node in _walk(tree, parents):
        if not isinstance(node, _ALLOWED):
            return None
        if isinstance(node, nodes.Filter) and (node.name not in PURE_FILTERS or node.node is None):
            return None
        if isinstance(node, nodes.Test) and node.name not in PURE_TESTS:
            return None
        if isinstance(node, nodes.Call) and not _harmless(node):
            return None
        if isinstance(node, nodes.TemplateData) and (
            "bctok" in node.data or PROBE_MARK in node.data
        ):
            return None
        if (
            isinstance(node, nodes.Const)
            and isinstance(node.value, str)
            and ("bctok" in node.value or PROBE_MARK in node.value)
        ):
            return None
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                loaded.append(node)
            else:
                stored.add(node.name)
    if stored & per_email:
        return None  # a name of the email's bound by the template itself: not followed
    known = per_email | stored | frozenset(readable) | {"loop"}
    uses: dict[tuple[str, str | None], int] = {}
    for name in loaded:
        if name.name not in known:
            return None
        if name.name not in per_email:
            continue
        parent, field = parents[id(name)]
        if isinstance(parent, nodes.Getattr) and field == "node":
            path: tuple[str, str | None] = (name.name, parent.attr)
            outer, outer_field = parents[id(parent)]
            if isinstance(outer, nodes.Output) and outer_field == "nodes":
                use = OUTPUT
            elif isinstance(outer, nodes.If) and outer_field == "test":
                use = TRUTH
            else:
                use = VALUE
        else:
            path, use = (name.name, None), VALUE
        uses[path] = uses.get(path, 0) | use
    paths = [(root, attribute, use) for (root, attribute), use in uses.items()]
    return Analysis(paths)


def _harmless(node: nodes.Call) -> bool:
    callee = node.node
    if isinstance(callee, nodes.Getattr):
        return callee.attr in PURE_METHODS
    if isinstance(callee, nodes.Name):
        return callee.name in PURE_FUNCTIONS
    return False


def _walk(tree: nodes.Node, parents: dict[int, tuple[nodes.Node, str]]) -> Iterable[nodes.Node]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for field in node.fields:
            value = getattr(node, field, None)
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, nodes.Node):
                    parents[id(child)] = (node, field)
                    stack.append(child)


# A baked shape: the subject, text and HTML skeletons with every value that is the same for
# the whole key written in, and the printed values left as slots:
# (first words, ((printed value's number, words after it), ...)).
Baked = tuple[str, tuple[tuple[int, str], ...]]


def bake(
    pieces: tuple[str, tuple[tuple[int, str], ...]],
    raw: list[tuple[str, str]],
    slot_of: Callable[[str], int | None],
    side: int,
) -> Baked:
    """Pieces of a skeleton (value index, words after) with the values of the probe render
    `raw`: a probe's value becomes its slot, every other value its text (side 0) or HTML
    (side 1), merged into the words around it."""
    first, rest = pieces
    out: list[tuple[int, str]] = []
    current = first
    for index, after in rest:
        text = raw[index][0]
        slot = slot_of(text)
        if slot is None:
            current += raw[index][side] + after
        else:
            out.append((slot, current))
            current = after
    # (slot, the words *before* it) pairs, then the words after the last: turned around so
    # that filling is a join in order.
    if not out:
        return current, ()
    head = out[0][1]
    turned = tuple(
        (out[i][0], out[i + 1][1] if i + 1 < len(out) else current) for i in range(len(out))
    )
    return head, turned


# A part's body planned by line for quoted-printable (mime.qp encodes a body a line at a
# time, the last two lines together): runs of lines without a printed value are one constant
# (their text, their encoding), a line with one is (its baked words, the last of the body).
# Filled, it gives the part's text (the text part without trailing spaces, as
# strip_trailing_space leaves it) and its encoding, the bytes mime.qp gives for that text.
Unit = tuple[str, bytes] | tuple[Baked, bool]
Plan = tuple[Unit, ...]


def plan_lines(baked: Baked, strip: bool, encode: Callable[[str], bytes]) -> Plan | None:
    """`baked` cut into mime.qp's units; None when it has fewer than three lines or a
    carriage return (mime.qp then encodes it whole, or changes its line ends first)."""
    first, rest = baked
    if "\r" in first or any("\r" in after for _, after in rest):
        return None
    # The body as lines, each a list of words and slots.
    lines: list[list[str | int]] = [[]]
    for piece in (first, *[x for slot, after in rest for x in (slot, after)]):
        if isinstance(piece, int):
            lines[-1].append(piece)
            continue
        head, *more = piece.split("\n")
        lines[-1].append(head)
        lines.extend([line] for line in more)
    if len(lines) < 3:
        return None
    last = lines.pop()
    lines[-1] = [*lines[-1], "\n", *last]
    units: list[Unit] = []
    constant_text: list[str] = []
    constant_code: list[bytes] = []
    for index, line in enumerate(lines):
        final = index == len(lines) - 1
        if not final:
            line = [*line, "\n"]
        if all(isinstance(x, str) for x in line):
            text = "".join(x for x in line if isinstance(x, str))
            if strip:
                text = _strip(text)
            constant_text.append(text)
            constant_code.append(encode(text))
            continue
        if constant_text:
            units.append(("".join(constant_text), b"".join(constant_code)))
            constant_text, constant_code = [], []
        units.append((_baked(line), final))
    if constant_text:
        units.append(("".join(constant_text), b"".join(constant_code)))
    return tuple(units)


def _baked(line: list[str | int]) -> Baked:
    words = ""
    out: list[tuple[int, str]] = []
    for x in line:
        if isinstance(x, int):
            out.append((x, ""))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + x)
        else:
            words += x
    return words, tuple(out)


def _strip(text: str) -> str:
    """strip_trailing_space of a unit: each of its lines without trailing spaces or tabs."""
    return "\n".join([line.rstrip(" \t") for line in text.split("\n")])
