"""Properties of the checks every input passes through (issue 8, "Prove it"), by Hypothesis:
the readers either round-trip a CSV or refuse it with a message, the address check agrees
with email-validator, and no value the header check accepts can add a header."""

from __future__ import annotations

import csv
import io
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from breadcrumbs.compose.message import (
    _PLAIN_TO,
    _TRAILING_SPACE,
    EXPECTED_HEADERS,
    Composer,
    _parsers_read_as,
    check_header_value,
    strip_trailing_space,
    to_reads_as,
)
from breadcrumbs.errors import SourceError, TemplateError, UnsafeHeaderError
from breadcrumbs.sources.read import decode, parse_csv_text, read_source
from breadcrumbs.validate import normalise_email, validate
from tests.test_compose import PLANNED_AT, TODAY, profile, thank_you

# ----- readers ------------------------------------------------------------------------------

HEADER = ["email", "name", "notes"]
# Cell text as people paste it: quotes, delimiters, line ends, accents, emoji. NUL is left
# out on purpose: the reader replaces it (the csv module refuses it), so it cannot round-trip.
CELL = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
# Windows-1252 text made only of ASCII and letters at 0xC0 and above: with no byte from
# 0x80-0xBF, no UTF-8 sequence can form, so the file is unambiguously Windows-1252.
CP1252_CELL = st.text(st.sampled_from(list("ab ,;\t\"'\r\nxyzZ=+-@éüñøßàçÉÜ")), max_size=40)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"]


def _write(rows: list[list[str]], delimiter: str, encoding: str) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows([HEADER, *rows])
    return out.getvalue().encode(encoding)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(ENCODINGS),
)
def test_any_csv_written_by_a_spreadsheet_reads_back_cell_for_cell(
    data: st.DataObject, delimiter: str, encoding: str
) -> None:
    """Whatever the cells, delimiter and encoding, decode + parse give back the header and
    every non-blank row, cell for cell, numbered as a spreadsheet shows it."""
    # UTF-16 without a BOM is known by the zero bytes of Latin text, so it is written in the
    # same alphabet as Windows-1252 here.
    cell = CP1252_CELL if encoding in ("cp1252", "utf-16-le", "utf-16-be") else CELL
    rows = data.draw(st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=6))
    raw = parse_csv_text(decode(_write(rows, delimiter, encoding), "c.csv"), "contacts", "c.csv")
    assert raw.header == HEADER
    expected = [
        (number, row)
        for number, row in enumerate(rows, start=2)
        if any(c.strip() for c in row)  # a blank row is skipped but keeps its number
    ]
    assert raw.rows == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400).map(lambda t: ("email,name\n" + t).encode("utf-8")),
        st.text(max_size=400).map(lambda t: ("email;name\n" + t).encode("utf-16")),
    )
)
def test_any_bytes_are_read_and_validated_or_refused_with_a_message(content: bytes) -> None:
    """Nothing crashes the read and validate stages: a file is tables and rejects, or a
    SourceError that names it."""
    with _folder(content) as folder:
        try:
            tables = read_source(str(folder))
        except SourceError as exc:
            assert "contacts.csv" in str(exc) or str(folder) in str(exc)
            return
        out = validate(tables)
        assert all(r.file == "contacts.csv" and r.row >= 2 for r in out.rejects)


class _folder:
    """A temporary folder holding one contacts.csv (pytest's tmp_path is per test, not
    per Hypothesis example)."""

    def __init__(self, content: bytes) -> None:
        import tempfile

        self._dir = tempfile.TemporaryDirectory()
        self.path = Path(self._dir.name)
        (self.path / "contacts.csv").write_bytes(content)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()


# ----- the address check ----------------------------------------------------------------------

LOCAL = st.text(st.sampled_from(list("abcXYZ019._+-'éß")), min_size=1, max_size=20)
LABEL = st.text(st.sampled_from(list("abcxyzABC019-ßςéü")), min_size=1, max_size=20)
TLD = st.sampled_from(["com", "de", "gr", "Org", "xn--p1ai", "test", "co.uk"])
ADDRESS = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    LOCAL,
    st.lists(st.one_of(LABEL, st.sampled_from(["xn--strae-oqa", "xn--bcher-kva"])), max_size=2),
    TLD,
)


@settings(max_examples=1000, deadline=None)
@given(address=ADDRESS)
@example(address="max@straße.de")
@example(address="MAX@XN--STRAE-OQA.DE")
def test_the_address_check_agrees_with_email_validator(address: str) -> None:
    """normalise_email refuses what email-validator refuses and otherwise gives the same
    normalised address; normalising twice changes nothing."""
    try:
        expected = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        with pytest.raises(EmailNotValidError):
            normalise_email(address)
        return
    assert normalise_email(address) == expected
    assert normalise_email(expected) == expected


@settings(max_examples=300, deadline=None)
@given(address=ADDRESS)
@example(address="max@straße.de")
def test_an_email_goes_to_the_ascii_address_email_validator_gives(address: str) -> None:
    """The To of a composed email is email-validator's ASCII form (IDNA 2008) of the address
    the contact row gave, for every address that can be mailed at all (issue 8, defect 3:
    it was Python's IDNA 2003, so max@straße.de went to max@strasse.de)."""
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return
    assume(checked.ascii_email is not None)  # a non-ASCII mailbox name needs SMTPUTF8
    composed = Composer(profile(False), TODAY).compose(
        thank_you(email=normalise_email(address)), PLANNED_AT
    )
    assert composed.email.to_addr.lower() == str(checked.ascii_email).lower()


# ----- the header check ------------------------------------------------------------------------

TRICKY = st.text(
    st.sampled_from(list("Ann Lee:<>@,;\"'=?_QqBb\r\n\t\x0b\x0c\x85\u2028\u2029\u202eé日\\()")),
    max_size=30,
)
VALUE = st.one_of(TRICKY, st.text(max_size=30), st.just("=?utf-8?q?Ann=0D=0ABcc:_x@y.z?="))


# One composer for every example, as one run composes many emails.
COMPOSER = Composer(profile(False), TODAY)


@settings(max_examples=1000, deadline=None)
@given(name=VALUE, company=VALUE, topic=VALUE)
def test_nothing_the_header_check_accepts_adds_a_header(
    name: str, company: str, topic: str
) -> None:
    """A name (To and Subject), company and topic that pass check_header_value make an
    email whose serialised header block, read back by the standard library's parser, has
    exactly our seven headers and one recipient: the contact."""
    try:
        check_header_value(name, "name")
    except UnsafeHeaderError:
        return
    due = thank_you(name=name, first_name=name, company=company, topic=topic)
    try:
        composed = COMPOSER.compose(due, PLANNED_AT)
    except TemplateError:
        return  # a value that looks like a placeholder ("{{") is refused, loudly
    except UnsafeHeaderError as exc:
        # The last check (verify_headers) refusing is safe: nothing leaves.
        assert "subject" in str(exc) or "someone else" in str(exc), f"{name!r}: {exc}"
        return
    for parse_policy in (policy.default, policy.compat32):
        message: Message = message_from_bytes(composed.email.raw, policy=parse_policy)
        assert sorted(k.lower() for k in message) == sorted(EXPECTED_HEADERS)
        to = message.get_all("To") or []
        assert len(to) == 1
    parsed = message_from_bytes(composed.email.raw, policy=policy.default)
    addresses = parsed["To"].addresses
    assert [a.addr_spec for a in addresses] == ["ann@example.com"]


# The fast path of the To check: a To of plain words and a plain address is read as that
# address without running the two parsers. It may only ever accept what they accept.
TO_PART = st.text(st.sampled_from(list("Aa0 _+-.@<>\"',;:()[]\\=?é\t")), max_size=12)
ADDR = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(st.sampled_from(list("ab0_+-.")), min_size=0, max_size=8),
    st.text(st.sampled_from(list("ab0-.")), min_size=0, max_size=8),
)


@settings(max_examples=3000, deadline=None)
@given(name=TO_PART, address=ADDR, other=ADDR, bracket=st.booleans())
@example(name="First1 Last1", address="person1@example.com", other="x@e.com", bracket=True)
@example(name="", address="a..b@example.com", other="x@e.com", bracket=False)
@example(name="Ann", address="a@b.c", other="a@b.c.d", bracket=True)
def test_the_to_fast_path_accepts_only_what_both_parsers_accept(
    name: str, address: str, other: str, bracket: bool
) -> None:
    value = f" {name} <{address}>" if bracket else f" {name}{address}"
    for intended in (address, other, address.upper()):
        fast = _PLAIN_TO.fullmatch(value) is not None and to_reads_as([value], intended)
        if fast:
            assert _parsers_read_as(value, intended), (value, intended)
    # A name of plain words is the shape of most sheets: the fast path must take it.
    words = name.split()
    if words and all(word.isascii() and word.isalnum() for word in words):
        assert _PLAIN_TO.fullmatch(f" {' '.join(words)} <person1@example.com>") is not None


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=0, max_size=5),
    # No quote below: a later quote would close the open one, and what lies between is a
    # legitimate (if odd) multi-line cell to the csv module; see the corpus for that limit.
    after=st.lists(
        st.lists(
            st.text(st.characters(exclude_categories=["Cs"], exclude_characters='\x00",;\t\r\n')),
            min_size=3,
            max_size=3,
        ),
        max_size=5,
    ),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_an_unclosed_quote_loses_no_row_silently(
    rows: list[list[str]], after: list[list[str]], delimiter: str
) -> None:
    """A row whose last cell opens a quote never closed: the rows above read back cell for
    cell, and that row is named as unread with the rows it swallowed; nothing else is read."""
    text = _write(rows, delimiter, "utf-8").decode("utf-8")
    text += f'ann@example.com{delimiter}Ann{delimiter}"never closed\r\n'
    text += _write(after, delimiter, "utf-8").decode("utf-8")
    raw = parse_csv_text(text, "contacts", "c.csv")
    assert raw.header == HEADER
    assert raw.rows == [(n, r) for n, r in enumerate(rows, start=2) if any(c.strip() for c in r)]
    ((row, column, reason),) = raw.unread
    assert (row, column) == (len(rows) + 2, 2)
    assert reason.startswith("unclosed quote: ") and reason.endswith("; close the quote")


# The text part's trailing spaces are cut a line at a time: exactly what the regex cuts.
SPACEY = st.text(st.sampled_from(list("a \t\n\r\u2028\x0b\x0c\x85é")), max_size=40)


@settings(max_examples=2000, deadline=None)
@given(text=SPACEY)
@example(text="Jordan Rivera  \nData engineer\t \n  ")
def test_trailing_space_is_cut_as_the_regex_cuts_it(text: str) -> None:
    assert strip_trailing_space(text) == _TRAILING_SPACE.sub("", text)
