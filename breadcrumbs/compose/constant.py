"""A template's parts that read the same for every email of a batch, rendered once.

A monthly update loops over the month's shared activity, prospects and companies, and every
email signs off with the sender's details: the same words for each of ten thousand readers.
Templates are the user's to edit, so nothing here knows the bundled ones: the template's
syntax tree is read, and a part is taken as constant only when it can be shown to read the
same in every email of the batch:

- every name it reads is a batch name (`me`, `today`, the shared values: the same objects for
  every email), a name it binds itself (a loop's variable, `loop`), or a name the template
  sets once at its top level from constant values before that part (`br`);
- it holds only expressions and statements whose result depends on nothing else: no filter
  with chance or that calls filters by name (`random`, `map`...), no call but of a method that
  changes nothing (`strip`, `get`) or of `range`/`dict`, no `set`, `include`, `import`,
  macro, call block, block, `self`, `caller`, filter block or `with`;
- and the whole template can change no batch value: every method call anywhere in it is of
  such a method (else `activity.companies.pop()` in one email would change the next one's),
  and it has no inheritance, include, import, macro, block or autoescape switch.

Each such part is rendered once with the batch's values (through the composer's own
finalize, so its values become tokens as in the full render) and put back in the template as
one output of a `_Splice`: the finalize hook appends the part's values to the email's values
and returns its text with the tokens numbered from where this email's values stand. So the
email's skeleton and values are exactly those of the full render. A part whose pre-render
fails (an undefined name, an error) stays as it was, and renders, or fails, per email; any
doubt about the template as a whole leaves it untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import nodes

TOKEN = re.compile(r"bctok(\d+)x")

# Names a render binds per email, even if a shared value had the same key (context() sets
# them after the shared values, or a kind's own value replaces it).
PER_EMAIL = frozenset(
    {"contact", "conversation", "referrals", "referrer", "month", "last_conversation", "referred"}
)

# Jinja's built-in filters whose result depends on their arguments alone. Left out: `random`
# (chance) and those that call another filter or test by name (map, select, reject,
# selectattr, rejectattr).
_FILTER_NAMES = """abs attr batch capitalize center count d default dictsort e escape
    filesizeformat first float forceescape format groupby indent int items join last length
    list lower max min pprint replace reverse round safe slice sort string striptags sum title
    tojson trim truncate unique upper urlencode urlize wordcount wordwrap xmlattr"""
PURE_FILTERS = frozenset(_FILTER_NAMES.split())
# Jinja's built-in tests: none has a side effect or chance.
_TEST_NAMES = """boolean callable defined divisibleby eq equalto escaped even false filter
    float ge gt greaterthan in integer iterable le lower lessthan lt mapping ne none number odd
    sameas sequence string test true undefined upper"""
PURE_TESTS = frozenset(_TEST_NAMES.split())
# Methods a template may call that change nothing: every method of str (immutable), the
# reading methods of dict, list and date, and a loop's own helpers. Not `pop`, `append`,
# `update`, `setdefault`, `sort`, `clear`...
PURE_METHODS = frozenset(
    {name for name in dir(str) if not name.startswith("_")}
    | {"get", "items", "keys", "values", "copy"}
    | {"isoformat", "strftime", "weekday", "isoweekday", "isocalendar", "ctime", "toordinal"}
    | {"cycle", "changed"}
)
PURE_FUNCTIONS = frozenset({"range", "dict"})

# Statements and expressions a constant part may hold (besides Name, Call, Filter, Test and
# For, checked on their own).
PLAIN_NODES = (
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.If,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.BinExpr,
    nodes.UnaryExpr,
    nodes.Concat,
    nodes.Tuple,
    nodes.List,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
)
# Anywhere in a template, any of these leaves it untouched.
_REFUSED = (
    nodes.Extends,
    nodes.Block,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.Macro,
    nodes.CallBlock,
    nodes.ExprStmt,
    nodes.NSRef,
    nodes.EvalContextModifier,
    nodes.Scope,
    nodes.OverlayScope,
    nodes.ContextReference,
    nodes.DerivedContextReference,
    nodes.InternalName,
    nodes.ImportedName,
    nodes.ExtensionAttribute,
    nodes.EnvironmentAttribute,
    nodes.Continue,
    nodes.Break,
)
_PLAIN_DATA = (str, int, float, bool, type(None), date, datetime)


class Splice:
    """A constant part of a template, rendered: its skeleton text (tokens numbered from 0)
    and the (text, HTML) pairs of its values, in order."""

    __slots__ = ("_at", "pairs", "text")

    def __init__(self, text: str, pairs: list[tuple[str, str]]) -> None:
        self.text = text
        self.pairs = tuple(pairs)
        self._at: dict[int, str] = {0: text}

    def emit(self, raw: list[tuple[str, str]]) -> str:
        """Append the part's values to an email's, and return its text as the full render
        would have written it at this point: each token moved up by the values before."""
        if not self.pairs:
            return self.text
        offset = len(raw)
        raw.extend(self.pairs)
        text = self._at.get(offset)
        if text is None:
            text = TOKEN.sub(lambda m: f"bctok{int(m[1]) + offset}x", self.text)
            if len(self._at) < 256:
                self._at[offset] = text
        return text


# Renders a template made of the given statements with the batch's values: (its output,
# the pairs of values the finalize hook recorded), or raises.
PreRender = Callable[[nodes.Template], tuple[str, list[tuple[str, str]]]]


def plain_data(value: Any) -> bool:
    """Data a render can only read: no object of our own with behaviour, no iterator that a
    first render would use up."""
    if isinstance(value, _PLAIN_DATA):
        return True
    if isinstance(value, dict):
        return all(type(k) is str and plain_data(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(plain_data(v) for v in value)
    return False


def batch_names(batch: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(k for k, v in batch.items() if k not in PER_EMAIL and plain_data(v))


def splice(
    template: nodes.Template, batch: frozenset[str], prerender: PreRender, prefix: str
) -> tuple[nodes.Template, dict[str, Splice]] | None:
    """The template with each constant part replaced by an output of a global named
    `<prefix><n>`, and those globals; None when nothing can be (or may be) replaced.
    `template` is changed in place: parse it afresh for this."""
    if not _may_splice(template):
        return None
    environment = template.environment
    if environment is None:
        return None
    stored = _stored_names(template)
    constant = set(batch - stored.keys())
    done: dict[str, Splice] = {}
    prefix_assigns: list[nodes.Assign] = []

    def render_once(body: list[nodes.Node]) -> nodes.Expr | None:
        """The part rendered: a global's name for the template to output, its text when
        it holds no value, or None when it cannot be rendered once."""
        part = nodes.Template([_clone(n) for n in prefix_assigns + body], lineno=1)
        part.set_environment(environment)
        try:
            text, pairs = prerender(part)
        except Exception:  # any failure: the part renders per email
            return None
        if [int(n) for n in TOKEN.findall(text)] != list(range(len(pairs))):
            return None  # a literal "bctok…" or an unusual order: not provably the same
        if not pairs:
            return nodes.TemplateData(text, lineno=body[0].lineno)
        name = f"{prefix}{len(done)}"
        done[name] = Splice(text, pairs)
        return nodes.Name(name, "load", lineno=body[0].lineno)

    def walk(body: list[nodes.Node], names: frozenset[str]) -> list[nodes.Node]:
        """The statements of `body`, each run of constant ones rendered once."""
        out: list[nodes.Node] = []
        run: list[nodes.Node] = []

        def close() -> None:
            if _worth(run):
                made = render_once(run)
                if made is not None:
                    out.append(nodes.Output([made], lineno=run[0].lineno))
                    run.clear()
                    return
            out.extend(run)
            run.clear()

        for node in body:
            if _constant(node, names, frozenset()):
                run.append(node)
                continue
            close()
            if isinstance(node, nodes.Output):
                out.append(nodes.Output(_outputs(node.nodes, names), lineno=node.lineno))
            elif isinstance(node, nodes.If):
                node.body = walk(node.body, names)
                for branch in node.elif_:
                    branch.body = walk(branch.body, names)
                node.else_ = walk(node.else_, names)
                out.append(node)
            elif isinstance(node, nodes.For):
                node.body = walk(node.body, names)
                node.else_ = walk(node.else_, names)
                out.append(node)
            else:
                out.append(node)
        close()
        return out

    def _outputs(children: list[nodes.Expr], names: frozenset[str]) -> list[nodes.Expr]:
        """The outputs of one `Output`, each run of constant ones rendered once."""
        out: list[nodes.Expr] = []
        run: list[nodes.Expr] = []

        def close() -> None:
            if _worth(run):
                made = render_once([nodes.Output(list(run), lineno=run[0].lineno)])
                if made is not None:
                    out.append(made)
                    run.clear()
                    return
            out.extend(run)
            run.clear()

        for child in children:
            if _constant(child, names, frozenset()):
                run.append(child)
            else:
                close()
                out.append(child)
        close()
        return out

    # The top level in stretches between its `set`s: a name set once, from constant values
    # (`{% set br = "  " %}`), is constant for what follows it.
    body: list[nodes.Node] = []
    stretch: list[nodes.Node] = []
    for node in template.body:
        if isinstance(node, nodes.Assign | nodes.AssignBlock):
            body.extend(walk(stretch, frozenset(constant)))
            stretch = []
            body.append(node)
            if (
                isinstance(node, nodes.Assign)
                and isinstance(node.target, nodes.Name)
                and stored.get(node.target.name) == 1
                and _constant(node.node, frozenset(constant), frozenset())
            ):
                prefix_assigns.append(node)
                constant.add(node.target.name)
            continue
        stretch.append(node)
    body.extend(walk(stretch, frozenset(constant)))
    if not done:
        return None
    template.body = body
    template.set_environment(environment)
    return template, done


def _worth(run: list[Any]) -> bool:
    """A run with something to evaluate: not only the template's own text."""
    return any(
        not isinstance(n, nodes.Output | nodes.TemplateData)
        for node in run
        for n in (node, *node.find_all(nodes.Node))
    )


def _may_splice(template: nodes.Template) -> bool:
    for node in template.find_all(nodes.Node):
        if isinstance(node, _REFUSED):
            return False
        if isinstance(node, nodes.TemplateData) and "bctok" in node.data:
            return False
        if isinstance(node, nodes.Call) and not _harmless_call(node, anywhere=True):
            return False
    return True


def _harmless_call(node: nodes.Call, anywhere: bool) -> bool:
    """A call that changes no value: a method of PURE_METHODS; in a constant part also
    range() and dict(); elsewhere any global function (cycler(), joiner(), lipsum() change
    nothing they were given) or a recursive loop's `loop(...)`."""
    callee = node.node
    if isinstance(callee, nodes.Getattr):
        return callee.attr in PURE_METHODS
    if isinstance(callee, nodes.Name):
        return anywhere or callee.name in PURE_FUNCTIONS
    return False


def _stored_names(template: nodes.Template) -> dict[str, int]:
    """How often each name is bound anywhere in the template (set, loop variable, with)."""
    counts: dict[str, int] = {}
    for name in template.find_all(nodes.Name):
        if name.ctx != "load":
            counts[name.name] = counts.get(name.name, 0) + 1
    return counts


def _constant(node: nodes.Node, names: frozenset[str], local: frozenset[str]) -> bool:
    """`node` reads the same in every email: see the module's docstring."""
    if isinstance(node, nodes.Name):
        return node.ctx == "load" and (node.name in names or node.name in local)
    if isinstance(node, nodes.For):
        if node.recursive or not _constant(node.iter, names, local):
            return False
        inner = local | {n.name for n in node.target.find_all(nodes.Name)} | {"loop"}
        if isinstance(node.target, nodes.Name):
            inner |= {node.target.name}
        return (
            (node.test is None or _constant(node.test, names, inner))
            and all(_constant(n, names, inner) for n in node.body)
            and all(_constant(n, names, local) for n in node.else_)
        )
    if isinstance(node, nodes.Call):
        if not _harmless_call(node, anywhere=False):
            return False
        callee = node.node
        children: Iterable[nodes.Node] = node.iter_child_nodes()
        if isinstance(callee, nodes.Name):  # range, dict: the function itself is no value
            children = (c for c in children if c is not callee)
        return all(_constant(c, names, local) for c in children)
    if isinstance(node, nodes.Filter):
        if node.name not in PURE_FILTERS or node.node is None:
            return False
    elif isinstance(node, nodes.Test):
        if node.name not in PURE_TESTS:
            return False
    elif not isinstance(node, PLAIN_NODES):
        return False
    return all(_constant(c, names, local) for c in node.iter_child_nodes())


def _clone(node: Any) -> Any:
    """A copy of a syntax tree to compile on its own (compiling may rewrite a tree in place:
    Jinja's optimizer folds constants), sharing its environment rather than copying it."""
    if isinstance(node, list):
        return [_clone(n) for n in node]
    if isinstance(node, tuple):
        return tuple(_clone(n) for n in node)
    if not isinstance(node, nodes.Node):
        return node
    copy = object.__new__(type(node))
    for field in node.fields:
        setattr(copy, field, _clone(getattr(node, field)))
    for attribute in node.attributes:
        setattr(copy, attribute, getattr(node, attribute, None))
    return copy
