"""Compose stage: one due email -> one complete RFC 5322 message, or a reason it cannot go.

A template is a `Subject:` line, a blank line and a Markdown body. It is rendered twice:
once plainly for the subject and the text part, once with HTML autoescaping (and Markdown
punctuation in values escaped) for the HTML part, so a value can never become markup.
Headers are never parsed out of rendered text: each is set from a checked value, and after
serialising we check that the message has exactly the headers we set (CVE-2024-6923 lets an
encoded word in a header value serialise as a real extra header on this Python).

Messages are serialised by compose/mime.py, written for the one shape we send: the standard
library's generator cost more than everything else in composing put together.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import types
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from email.utils import format_datetime, formataddr, getaddresses
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.compiler
import jinja2.nodes
import jinja2.runtime
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from breadcrumbs.compose import keyed
from breadcrumbs.compose.constant import PER_EMAIL, Splice, batch_names, splice
from breadcrumbs.compose.mime import attachment_part, build, encode_header, qp_line
from breadcrumbs.errors import TemplateError, UnsafeHeaderError
from breadcrumbs.profile import Profile
from breadcrumbs.records import Composed, Due, OutgoingEmail
from breadcrumbs.settings import TEMPLATES_DIR

DEFAULT_TEMPLATES = TEMPLATES_DIR
TEMPLATE_FILES = {
    "thank-you": "thank-you.md.j2",
    "intro": "intro.md.j2",
    "monthly": "monthly.md.j2",
}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Markdown's hard line break (two trailing spaces) belongs to the HTML part; in the text part
# a recipient's client shows them as stray whitespace, or a quoted-reply marker.
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)


def strip_trailing_space(text: str) -> str:
    """_TRAILING_SPACE.sub("", text), a line at a time: the regex tries a match at every
    space of the body (a tenth of composing); its `$` is a line's end at "\n" only, as here.
    test_properties checks the two agree."""
    return "\n".join([line.rstrip(" \t") for line in text.split("\n")])


_PLACEHOLDER = re.compile(r"\{\{.{0,40}?\}\}|\{%.{0,40}?%\}|\{\{|\{%")
# The To that formataddr writes for a name of plain words (or no name): nothing in it is
# special to either parser (no quote, comment, group, route, encoded word or second line), so
# both read it as the one address in it, and running them (about 1 ms an email, more than all
# the rest of composing) proves nothing more. Any other To goes through both parsers.
# test_properties checks that this never accepts what the parsers would refuse.
_ATOM = r"[A-Za-z0-9_+-]+"
_ADDRESS = rf"({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
_PLAIN_TO = re.compile(rf" (?:[A-Za-z0-9]+(?: [A-Za-z0-9]+)* <{_ADDRESS}>|{_ADDRESS})")
EXPECTED_HEADERS = {"content-type", "mime-version", "from", "to", "subject", "date", "message-id"}
MAX_SUBJECT = 200


def check_header_value(value: str, what: str) -> str:
    """Refuse what could break out of a header: control characters and encoded words."""
    if _UNSAFE.search(value):
        raise UnsafeHeaderError(f"{what} contains a line break or control character")
    if "=?" in value:
        raise UnsafeHeaderError(f"{what} contains an encoded word (=?...?=)")
    return value


def message_id(key: str, sender: str) -> str:
    """Deterministic per ledger row and sender, so a resend is recognisably the same email."""
    digest = hashlib.sha256(f"{sender}\x1f{key}".encode()).hexdigest()[:32]
    # The sender's domain in its header form: a Message-ID is ASCII (RFC 5322).
    domain = ascii_address(sender).rsplit("@", 1)[-1] if "@" in sender else "breadcrumbs.invalid"
    return f"<{digest}.breadcrumbs@{domain}>"


def friendly_when(day: date | None, today: date, mode: str = "outbox") -> str:
    """When the conversation was, in words that stay true until the email is read.

    Only the send mode's email leaves at once, so only it may say "yesterday" or "today": an
    outbox file is sent by hand and a draft reviewed later, often days after it is written,
    so their words name the day ("on Monday, November 16").
    """
    if day is None:
        return ""
    if mode != "send":
        return f"on {day.strftime('%A, %B')} {day.day}"
    delta = (today - day).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "yesterday"
    if 1 < delta < 7:
        return f"on {day.strftime('%A')}"
    return f"on {day.strftime('%B')} {day.day}"


class _Values:
    """finalize hook: every value becomes an inert placeholder in one render of the template.

    That render is the email's skeleton: the template's own words and Markdown, with
    `bctok<n>x` where each value goes. The text part fills the values back in as they are;
    the HTML part is the skeleton's Markdown conversion (cached: most contacts share a
    shape, so ten thousand emails cost a few conversions) with each value HTML-escaped. So a
    cell can never become markup (no `*x*`, no `[a](http://…)`, no `<script>`), and the
    subject is cut at the template's own line break only: a value's line break lands inside
    the subject, where check_header_value refuses it (a cell "Acme\nBcc: x@evil.example").
    Values of plain spaces (a template's `br` line break) stay as they are.
    """

    token = re.compile(r"bctok(\d+)x")

    def __init__(self) -> None:
        self.raw: list[tuple[str, str]] = []  # (as text, as HTML)
        # Most values repeat from email to email (the sender's, the topic, the company):
        # each is escaped once.
        self._pairs: dict[str, tuple[str, str]] = {}

    @jinja2.pass_eval_context
    def finalize(self, _eval_ctx: Any, value: Any) -> Any:
        """The finalize hook. It asks for the evaluation context only so that Jinja never
        calls it while compiling: a plain finalize is applied to constant outputs
        (`{{ "Hi" }}`) at compile time, which would bake the token of that moment's list
        into the template, and every later email would show its own first value there."""
        pair = self._pairs.get(value) if type(value) is str else None
        if pair is not None:  # the common case: a plain str seen before
            raw = self.raw
            raw.append(pair)
            index = len(raw) - 1
            return _TOKENS[index] if index < len(_TOKENS) else f"bctok{index}x"
        if type(value) is Splice:  # a part of the template rendered once for the batch
            return value.emit(self.raw)
        if isinstance(value, Markup):
            # Already HTML (a `join` of values under autoescape, or `|safe`): the text part
            # gets it unescaped, the HTML part as it is.
            pair = (value.unescape(), str(value))
        else:
            text = str(value)
            pair = self._pairs.get(text)
            if pair is None:
                if not text.strip(" \t"):
                    return text
                if len(self._pairs) > 4096:
                    self._pairs.clear()
                pair = self._pairs[text] = (text, str(escape(text)))
        self.raw.append(pair)
        # A plain str: autoescape turns it into Markup as it is (it holds nothing to escape).
        return f"bctok{len(self.raw) - 1}x"

    def pairs(self, value: str) -> tuple[str, str]:
        """(as text, as HTML) of a non-blank str, as finalize records it."""
        pair = self._pairs.get(value)
        if pair is None:
            if len(self._pairs) > 4096:
                self._pairs.clear()
            pair = self._pairs[value] = (value, str(escape(value)))
        return pair

    def plain(self, pieces: _Pieces) -> str:
        return _fill(pieces, self.raw, 0)

    def html(self, pieces: _Pieces) -> str:
        return _fill(pieces, self.raw, 1)


_TOKENS = tuple(f"bctok{index}x" for index in range(1024))  # made once, not per value

# A skeleton cut at its tokens: the words before the first, then (value index, the words
# after it) for each token. Ten thousand emails of one shape share one.
_Pieces = tuple[str, tuple[tuple[int, str], ...]]


def _pieces(skeleton: str) -> _Pieces:
    parts = _Values.token.split(skeleton)
    return parts[0], tuple(zip(map(int, parts[1::2]), parts[2::2], strict=True))


def _fill(pieces: _Pieces, raw: list[tuple[str, str]], side: int) -> str:
    first, rest = pieces
    if not rest:
        return first
    return first + "".join([raw[index][side] + after for index, after in rest])


def _join(baked: keyed.Baked, values: list[Any], side: int) -> str:
    """A baked skeleton with the email's printed values (text or HTML side) joined in."""
    first, rest = baked
    if not rest:
        return first
    return first + "".join([values[slot][side] + after for slot, after in rest])


def _fill_lines(lines: keyed.Plan, values: list[Any], side: int, strip: bool) -> tuple[str, bytes]:
    """A part planned by line (keyed.plan_lines) with the email's printed values: its text
    (without trailing spaces when `strip`) and mime.qp's encoding of that text."""
    texts: list[str] = []
    codes: list[bytes] = []
    for words, code in lines:
        if type(words) is str:
            texts.append(words)
            codes.append(code)  # type: ignore[arg-type]
            continue
        text = _join(words, values, side)  # type: ignore[arg-type]
        if strip:
            text = "\n".join([line.rstrip(" \t") for line in text.split("\n")])
        texts.append(text)
        codes.append(qp_line(text))
    return "".join(texts), b"".join(codes)


# A key's shape: the subject, text and HTML baked (keyed.bake), and the text and HTML
# planned by line (keyed.plan_lines; None: encoded whole by mime.build).
_Baked = tuple[keyed.Baked, keyed.Baked, keyed.Baked, keyed.Plan | None, keyed.Plan | None]

_NOT_YET: Any = object()


class _Fields(dict[str, Any]):
    """A template's dict of values whose keys also read as attributes without an exception:
    Jinja tries `getattr` first for `contact.name`, and a plain dict's AttributeError cost
    more than the lookup. Methods (`items`, `get`) win over keys, as on a plain dict."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_FIELD_ATTRS = frozenset(dir(_Fields))  # what getattr finds on a _Fields before its keys


class _OutputCode(jinja2.compiler.CodeGenerator):
    """Each `{{ value }}` compiled as `finalize(value)` alone, not `escape(finalize(value))`.

    Our finalize (_Values.finalize) only ever returns a plain str that holds nothing to
    escape: a `bctok<n>x` token or a value of plain spaces and tabs. Escaping it wrapped it
    in a Markup for nothing (a tenth of composing); the joined output is the same string."""

    def _output_child_pre(self, node: Any, frame: Any, finalize: Any) -> None:
        self.write("(")
        if finalize.src is not None:
            self.write(finalize.src)


class _Context(jinja2.runtime.Context):
    """A template's call of a built-in method (`subject_for.get(kind, "…")`) made directly:
    Jinja looks for a pass_context mark on the callable and its `__call__` first, which a
    built-in method can never carry. Every other callable goes through Jinja's own call."""

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if type(__obj) is not types.BuiltinMethodType:
            return super().call(__obj, *args, **kwargs)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


class _Environment(jinja2.Environment):
    """Jinja's attribute lookup (`contact.name`) without a Python-level `__getattr__` call
    per attribute for the template's own dicts: for a _Fields it returns what
    `jinja2.Environment.getattr` would (a dict method first, then the key, else undefined),
    by a plain key lookup. Every other object (a `loop.first`) goes through Jinja's own
    lookup, written out here as `jinja2.Environment.getattr` has it, saving a call."""

    code_generator_class = _OutputCode
    context_class = _Context

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is _Fields and attribute not in _FIELD_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        try:
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)


def vcard(profile: Profile) -> bytes:
    """The sender's business card, RFC 6350 (text values escaped, lines folded at 75)."""

    def esc(text: str) -> str:
        return (
            text.replace("\\", "\\\\")
            .replace(",", "\\,")
            .replace(";", "\\;")
            .replace("\r\n", "\\n")
            .replace("\n", "\\n")
        )

    me = profile.me
    parts = me.name.rsplit(" ", 1)
    family, given = (parts[1], parts[0]) if len(parts) == 2 else (me.name, "")
    lines = [
        "BEGIN:VCARD",
        "VERSION:4.0",
        f"FN:{esc(me.name)}",
        f"N:{esc(family)};{esc(given)};;;",
        f"EMAIL;TYPE=work:{esc(me.email)}",
    ]
    if me.phone:
        lines.append(f"TEL;VALUE=uri;TYPE=cell:tel:{me.phone.replace(' ', '-')}")
    if me.linkedin:
        lines.append(f"URL:{me.linkedin}")
    if me.looking_for:
        lines.append(f"NOTE:{esc('Looking for ' + me.looking_for)}")
    lines.append("END:VCARD")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")


def _fold(line: str) -> str:
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    out: list[str] = []
    chunk = ""
    for char in line:
        if len((chunk + char).encode("utf-8")) > (75 if not out else 74):
            out.append(chunk)
            chunk = ""
        chunk += char
    out.append(chunk)
    return "\r\n ".join(out)


class Composer:
    """Renders and builds messages for one run: templates are loaded once, not per email."""

    # compose/keyed.py: a key's shape is made when the key comes back (0: at once, as the
    # tests have it); off, every email goes through Jinja.
    keyed_after = 1
    keyed_on = True

    def __init__(
        self,
        profile: Profile,
        today: date,
        template_dirs: Iterable[Path] = (DEFAULT_TEMPLATES,),
        mode: str = "outbox",
        shared: Mapping[str, Any] | None = None,
    ) -> None:
        self.profile = profile
        self.today = today
        self.mode = mode  # how the email leaves decides its relative words (friendly_when)
        # What every email of the batch says alike (a monthly update's activity): read once.
        self._shared = {k: _as_fields(v) for k, v in (shared or {}).items()}
        dirs = [str(d) for d in template_dirs]
        common: dict[str, Any] = {
            "loader": jinja2.FileSystemLoader(dirs),
            "undefined": jinja2.StrictUndefined,
            "keep_trailing_newline": True,
        }
        self._values = _Values()
        self._env = _Environment(autoescape=True, finalize=self._values.finalize, **common)
        self._shapes: dict[str, tuple[_Pieces, _Pieces, _Pieces]] = {}
        # CommonMark with raw HTML off: a template's or a cell's <tags> show as text.
        self._markdown = MarkdownIt("commonmark", {"html": False})
        self._card = (
            attachment_part("text/vcard", _card_name(profile.me.name), vcard(profile))
            if profile.etiquette.vcard
            else None
        )
        self._dates: dict[datetime, str] = {}
        self._templates: dict[str, jinja2.Template] = {}
        # compose/keyed.py: each template's syntax tree as compiled, the names of its parts
        # rendered once, and what it reads per email (None: Jinja renders every email).
        self._trees: dict[str, jinja2.nodes.Template] = {}
        self._globals: dict[str, frozenset[str]] = {}
        self._analyses: dict[str, keyed.Analysis | None] = {}
        # The last render's text and HTML as quoted-printable, when the keyed path made
        # them (mime.build encodes them otherwise).
        self._encoded: tuple[bytes, bytes] | None = None
        self._when: dict[date | None, str] = {}  # friendly_when, per day
        self._months: dict[date | None, str] = {}  # _month_name, per first day
        me = profile.me
        check_header_value(me.name, "your name in profile.toml")
        self._from = formataddr((me.name, ascii_address(me.email)), charset="utf-8")
        self._me = _Fields(
            name=me.name,
            first_name=me.first_name,
            email=me.email,
            phone=me.phone,
            linkedin=me.linkedin,
            looking_for=me.looking_for,
            pitch=me.pitch,
            signature=me.signature,
        )

    def context(self, due: Due) -> dict[str, Any]:
        context: dict[str, Any] = {
            "me": self._me,
            "contact": _Fields(
                name=due.name,
                first_name=due.first_name or due.name,
                company=due.company,
                title=due.title,
                email=due.email,
            ),
            "today": self.today,
            **self._shared,
        }
        if due.kind == "thank-you":
            context["conversation"] = _Fields(
                kind=due.conversation_kind,
                date=due.for_date,
                topic=due.topic,
                when=self._friendly(due.for_date),
            )
            context["referrals"] = [_Fields(name=n) for n in due.referrals]
        if due.kind == "intro":
            context["referrer"] = _Fields(
                name=due.referrer_name,
                first_name=due.referrer_first_name or due.referrer_name,
                company=due.referrer_company,
            )
        if due.kind == "monthly":
            month = self._months.get(due.for_date)
            if month is None:
                month = self._months[due.for_date] = _month_name(due.for_date)
            context["month"] = _Fields(key=due.month, name=month)
            context["last_conversation"] = _Fields(
                kind=due.conversation_kind,
                date=due.last_talked_on,
                topic=due.topic,
                when=self._friendly(due.last_talked_on),
            )
            context["referred"] = [
                _Fields(
                    name=name,
                    talked=bool(talked),
                    when=self._friendly(date.fromisoformat(talked or wrote)),
                )
                for name, talked, wrote in due.referred
            ]
        return context

    def _friendly(self, day: date | None) -> str:
        when = self._when.get(day)
        if when is None:
            when = self._when[day] = friendly_when(day, self.today, self.mode)
        return when

    def render(self, due: Due) -> tuple[str, str, str]:
        """(subject, text body, html body), or TemplateError naming what failed."""
        self._encoded = None
        name = TEMPLATE_FILES.get(due.kind)
        if name is None:
            raise TemplateError(f"no template for emails of kind {due.kind!r}")
        context = self.context(due)
        try:
            template = self._templates.get(name)
            if template is None:  # loaded once a run: not a stat of its file per email
                template = self._templates[name] = self._load(name)
            keyed = self._keyed(name, template, context)
            if keyed is not None:
                return self._checked(name, *keyed)
            self._values.raw = []
            skeleton = template.render(context)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"template {name} is missing from templates/") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{name}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{name}: {exc}") from None
        shape = self._shape(skeleton, name)
        values = self._values
        return self._checked(
            name, values.plain(shape[0]), values.plain(shape[1]), values.html(shape[2])
        )

    def _shape(self, skeleton: str, name: str) -> tuple[_Pieces, _Pieces, _Pieces]:
        """The skeleton's subject, text and HTML, each cut at its tokens."""
        shape = self._shapes.get(skeleton)
        if shape is None:
            head, body = _split_subject(skeleton, name)
            converted = self._markdown.render(body)
            if len(self._shapes) > 512:  # many shapes: a cache this size still pays
                self._shapes.clear()
            shape = self._shapes[skeleton] = (_pieces(head), _pieces(body), _pieces(converted))
        return shape

    def _keyed(
        self, name: str, template: jinja2.Template, context: dict[str, Any]
    ) -> tuple[str, str, str, bool] | None:
        """(subject, text, HTML, whether the text has its trailing spaces cut already)
        filled into the shape of the email's key without running Jinja (compose/keyed.py),
        or None: Jinja renders this one. With its parts' encodings in `_encoded`."""
        if not self.keyed_on:
            return None
        analysis = self._analyses.get(name, _NOT_YET)
        if analysis is _NOT_YET:
            analysis = self._analyses[name] = self._analyse(name)
        if analysis is None:
            return None
        found = analysis.key(context, _Fields)
        if found is None:
            return None
        key, printed = found
        baked = analysis.shapes.get(key, _NOT_YET)
        if baked is _NOT_YET:
            if self.keyed_after and key not in analysis.seen:  # seen once: may not return
                if len(analysis.seen) > 4096:
                    analysis.seen.clear()
                analysis.seen.add(key)
                return None
            if len(analysis.shapes) > 512:
                analysis.shapes.clear()
            baked = analysis.shapes[key] = self._bake(name, template, context, analysis, key)
        if baked is None:
            return None
        pairs = self._values.pairs
        values = [pairs(value) if value is not None else None for value in printed]
        subject, text, html, text_lines, html_lines = baked
        if (  # a value's line break would change the lines: encoded whole
            text_lines is not None
            and html_lines is not None
            and not any(v is not None and ("\n" in v or "\r" in v) for v in printed)
        ):
            plain, plain_qp = _fill_lines(text_lines, values, 0, True)
            marked, marked_qp = _fill_lines(html_lines, values, 1, False)
            self._encoded = (plain_qp, marked_qp)
            return _join(subject, values, 0), plain, marked, True
        return _join(subject, values, 0), _join(text, values, 0), _join(html, values, 1), False

    def _analyse(self, name: str) -> keyed.Analysis | None:
        tree = self._trees.get(name)
        if tree is None:
            return None
        batch = {"me": self._me, "today": self.today, **self._shared}
        readable = batch_names(batch) | set(self._globals.get(name, ())) | {"range", "dict"}
        try:
            return keyed.analyse(tree, PER_EMAIL, readable - PER_EMAIL)
        except Exception:  # any doubt: Jinja renders every email
            return None

    def _bake(
        self,
        name: str,
        template: jinja2.Template,
        context: dict[str, Any],
        analysis: keyed.Analysis,
        key: tuple[Any, ...],
    ) -> _Baked | None:
        """The key's shape: one render through Jinja with each printed value a probe."""
        probed = dict(context)
        probes: dict[str, int] = {}
        slot = 0
        for (root, attribute, uses), mark in zip(analysis.paths, key, strict=True):
            if not uses & keyed.OUTPUT or uses & keyed.VALUE:
                continue
            if mark is keyed.PRINTED:
                assert attribute is not None
                fields = _Fields(probed[root])
                fields[attribute] = probe = keyed.PROBE.format(slot)
                probed[root] = fields
                probes[probe] = slot
            slot += 1
        try:
            self._values.raw = []
            skeleton = template.render(probed)
            raw = self._values.raw
            shape = self._shape(skeleton, name)
        except Exception:
            return None
        finally:
            self._values.raw = []
        for text, html in raw:
            if text not in probes and (keyed.PROBE_MARK in text or keyed.PROBE_MARK in html):
                return None  # a probe inside another value: not provably the same
        body = keyed.bake(shape[1], raw, probes.get, 0)
        marked = keyed.bake(shape[2], raw, probes.get, 1)
        return (
            keyed.bake(shape[0], raw, probes.get, 0),
            body,
            marked,
            keyed.plan_lines(body, True, qp_line),
            keyed.plan_lines(marked, False, qp_line),
        )

    def _checked(
        self, name: str, subject: str, text: str, html: str, stripped: bool = False
    ) -> tuple[str, str, str]:
        """The filled subject and parts, checked as every email is: the text part without
        trailing spaces, no placeholder left, a body."""
        if not stripped:
            text = strip_trailing_space(text)
        leftover = _PLACEHOLDER.search(subject + "\n" + text)
        if leftover:
            # Never send "Hi {{first_name}}": a cell pasted from another mail-merge tool, or a
            # template whose tag was escaped by mistake, would otherwise go out as it is.
            raise TemplateError(
                f"{name}: the email would contain an unfilled placeholder {leftover.group()!r}"
            )
        if not text.strip():
            raise TemplateError(f"{name}: the body is empty")
        return subject, text, html

    def _load(self, name: str) -> jinja2.Template:
        """The template as `Environment.get_template` loads it (the same errors), with its
        batch-constant parts rendered once (compose/constant.py) when that can be shown to
        change nothing. Its globals are one plain dict, not Jinja's ChainMap over the
        template's and the environment's: each email's context copies them and lists their
        keys, which through a ChainMap cost more than the copy (nothing changes the
        environment's globals during a run)."""
        env = self._env
        assert env.loader is not None
        source, filename, _ = env.loader.get_source(env, name)
        if "bctok" in source:
            # The skeleton marks where each value goes with `bctok<n>x`: the same text in
            # the template's own words would be filled with some value, or fail.
            raise TemplateError(
                f"{name}: the text 'bctok' is reserved (Breadcrumbs marks where values go "
                "with it); reword it in the template"
            )
        try:
            spliced = self._spliced(source, name, filename)
        except Exception:  # any doubt (a syntax error too): as get_template
            spliced = None
        if spliced is not None:
            return spliced
        template = env.template_class.from_code(
            env, env.compile(source, name, filename), dict(env.globals)
        )
        with contextlib.suppress(Exception):  # compose/keyed.py's tree: parsed again
            self._trees[name] = env.parse(source, name, filename)
        return template

    def _spliced(self, source: str, name: str, filename: str | None) -> jinja2.Template | None:
        env = self._env
        batch = {"me": self._me, "today": self.today, **self._shared}
        names = batch_names(batch)
        batch = {k: v for k, v in batch.items() if k in names}

        def prerender(part: jinja2.nodes.Template) -> tuple[str, list[tuple[str, str]]]:
            code = env.compile(part, name, filename)
            template = env.template_class.from_code(env, code, dict(env.globals))
            self._values.raw = []
            try:
                return template.render(batch), self._values.raw
            finally:
                self._values.raw = []

        done = splice(env.parse(source, name, filename), names, prerender, "_bc_part_")
        if done is None:
            return None
        tree, parts = done
        code = env.compile(tree, name, filename)
        self._trees[name] = tree
        self._globals[name] = frozenset(parts)
        return env.template_class.from_code(env, code, {**env.globals, **parts})

    def _date(self, when: datetime) -> str:
        # A batch shares one planned_at: format it once, not ten thousand times.
        if when not in self._dates:
            self._dates[when] = format_datetime(when)
        return self._dates[when]

    def compose(self, due: Due, planned_at: datetime) -> Composed:
        subject, text, html = self.render(due)
        check_header_value(subject, "the subject")
        if len(subject) > MAX_SUBJECT:
            raise UnsafeHeaderError(f"the subject is longer than {MAX_SUBJECT} characters")
        check_header_value(due.name, "the contact's name")
        to_addr = ascii_address(check_header_value(due.email, "the contact's email"))
        msg_id = message_id(due.key, self.profile.me.email)
        raw = build(
            [
                ("From", self._from),
                ("To", _to_header(due.name, to_addr)),
                ("Subject", encode_header(subject)),
                ("Date", self._date(planned_at)),
                ("Message-ID", msg_id),
            ],
            text,
            html,
            msg_id,
            self._card,
            self._encoded,
        )
        verify_headers(raw, to_addr)
        return Composed(
            due, OutgoingEmail(due.key, to_addr, subject, msg_id, raw, planned_at), text, html
        )


def _as_fields(value: Any) -> Any:
    """Shared values as the template reads them: every dict a _Fields, lists alike."""
    if isinstance(value, dict):
        return _Fields({k: _as_fields(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_as_fields(v) for v in value]
    return value


_PLAIN_NAME = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")


def _to_header(name: str, address: str) -> str:
    """formataddr((name, address), charset="utf-8"), written directly for a name of plain
    words (ASCII letters and digits, single spaces), which it would neither quote, escape
    nor encode: `Ann Lee <ann@example.com>`."""
    if _PLAIN_NAME.fullmatch(name) and address.isascii():
        return f"{name} <{address}>"
    return formataddr((name, address), charset="utf-8")


def _month_name(first: date | None) -> str:
    return first.strftime("%B") if first else ""


@lru_cache(maxsize=4096)
def ascii_address(address: str) -> str:
    """An address fit for a header: an international domain goes as IDNA 2008 (punycode).

    email-validator's own ASCII form, never Python's `idna` codec: that one is IDNA 2003,
    which maps straße.de to strasse.de, another domain (issue #8).
    """
    if address.isascii():
        return address  # validate wrote it: an ASCII domain is already in its final form
    # Imported here: a batch of ASCII addresses never needs it (start-up time, issue 11).
    from email_validator import EmailNotValidError, validate_email

    try:
        ascii_form = validate_email(address, check_deliverability=False).ascii_email
    except EmailNotValidError as exc:
        raise UnsafeHeaderError(f"the address cannot go in a header: {exc}") from None
    if ascii_form is None:
        raise UnsafeHeaderError("a mailbox name with non-ASCII letters needs SMTPUTF8")
    return ascii_form


def _card_name(name: str) -> str:
    """An attachment file name that needs no encoding: the name's plain letters."""
    plain = re.sub(r"[^A-Za-z0-9 ._-]+", "", name).strip(" .")
    return f"{plain or 'contact'}.vcf"


def _split_subject(rendered: str, name: str) -> tuple[str, str]:
    head, _, body = rendered.lstrip("\n").partition("\n")
    if not head.startswith("Subject:"):
        raise TemplateError(f"{name}: the first line must be 'Subject: ...'")
    subject = head[len("Subject:") :].strip()
    if not subject:
        raise TemplateError(f"{name}: the subject is empty")
    return subject, body.lstrip("\n")


# The header block as mime.build writes it, each header once and on one line (the subject's
# encoded words may continue on further lines): the loop below would find exactly our seven
# names and this To, so this shape is checked by one match (test_compose_shortcuts compares).
_OUR_SHAPE = re.compile(
    r"From:[^\r\n]*\r\nTo:([^\r\n]*)\r\nSubject:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n"
    r"Date:[^\r\n]*\r\nMessage-ID:[^\r\n]*\r\nMIME-Version:[^\r\n]*\r\n"
    r"Content-Type:[^\r\n]*"
)


def verify_headers(raw: bytes, to_addr: str) -> None:
    """The serialised message has exactly our headers, and one recipient: the intended one."""
    end = raw.find(b"\r\n\r\n")  # the header block, without copying the body
    block = (raw if end < 0 else raw[:end]).decode("ascii", "replace")
    ours = _OUR_SHAPE.fullmatch(block)
    if ours is not None:
        if not to_reads_as([ours[1]], to_addr):
            raise UnsafeHeaderError("the message would go to someone else than intended")
        return
    _verify_header_lines(block, to_addr)


def _verify_header_lines(block: str, to_addr: str) -> None:
    """verify_headers for a block of any shape: its names, then its To."""
    names: list[str] = []
    to_lines: list[str] = []
    for line in block.split("\r\n"):
        if line[:1] in (" ", "\t"):
            if names and names[-1] == "to":
                to_lines.append(line)
            continue
        name = line.split(":", 1)[0].strip().lower()
        names.append(name)
        if name == "to":
            to_lines.append(line.split(":", 1)[1])
    if sorted(names) != sorted(EXPECTED_HEADERS):
        extra = sorted(set(names) - EXPECTED_HEADERS) or names
        raise UnsafeHeaderError(f"the message would carry unexpected headers: {extra}")
    if not to_reads_as(to_lines, to_addr):
        raise UnsafeHeaderError("the message would go to someone else than intended")


def to_reads_as(to_lines: list[str], to_addr: str) -> bool:
    """The To (its value, one string per header line) names exactly `to_addr`."""
    if len(to_lines) == 1:
        plain = _PLAIN_TO.fullmatch(to_lines[0])
        if plain is not None:
            return (plain[1] or plain[2]).lower() == to_addr.lower()
    return _parsers_read_as("".join(to_lines), to_addr)


def _parsers_read_as(to_value: str, to_addr: str) -> bool:
    # The addresses as two parsers read them (the legacy one and the RFC 5322 one a relay
    # may use), so an "@" in a quoted display name ("Ann Lee (@annlee)") is a name, not a
    # second recipient, and a header the two read differently is refused. The whole address
    # is compared, not only its domain: a colleague at the same company is someone else too.
    from email import message_from_string, policy  # only for a To of another shape

    legacy = [addr.lower() for _, addr in getaddresses([to_value])]
    try:
        parsed = message_from_string(f"To:{to_value}\r\n\r\n", policy=policy.default)
        modern = [a.addr_spec.lower() for a in parsed["To"].addresses]
    except (IndexError, ValueError, TypeError):
        modern = []
    return legacy == modern == [to_addr.lower()]
