"""The sync's shortcuts read and judge exactly as the plain per-row code they replace (issue 11).

Each shortcut (lines split without a StringIO, blank rows found by one join, a date or a
contact cell read once per distinct text, an ambiguous name's reason written once) is
checked against the straightforward code it stands for, on generated input.
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.sources import read
from breadcrumbs.sources.dates import parse_date
from breadcrumbs.sources.read import parse_csv_text, read_source
from breadcrumbs.validate import _parse_date, _reference, validate

# Cells made of what trips CSV and line splitting: quotes, separators, every line end.
CELL = st.text(alphabet=st.sampled_from(list('ab ,;"\r\n\t\x00\u2028\x0cé')), max_size=8)


def reference_records(text: str) -> list[list[str]]:
    """The records as the csv module reads them from a StringIO: the code before issue 11."""
    lines = io.StringIO(text.replace("\x00", "\ufffd"), newline="")
    return list(csv.reader(itertools.chain(lines, [read._END_OF_FILE + "\n"])))


@given(st.text(alphabet=st.sampled_from(list("ab\r\n\u2028\x0c\x1c")), max_size=30))
def test_lines_are_what_a_stringio_gives(text: str) -> None:
    assert list(read._lines(text)) == list(io.StringIO(text, newline=""))


@settings(max_examples=300)
@given(st.lists(st.lists(CELL, min_size=1, max_size=4), min_size=1, max_size=6))
def test_a_csv_reads_as_the_stringio_reader_read_it(records: list[list[str]]) -> None:
    out = io.StringIO(newline="")
    csv.writer(out).writerows([["date", "contact", "kind"], *records])
    text = out.getvalue()
    expected = reference_records(text)
    assert expected.pop() == [read._END_OF_FILE]  # the writer closed every quote
    raw = parse_csv_text(text, "interactions", "interactions.csv")
    kept = [
        (number, cells)
        for number, cells in enumerate(expected[1:], 2)
        if not all(not c.strip() for c in cells)
    ]
    assert raw.rows == kept


def test_a_workbook_row_of_numbers_and_blanks_is_judged_cell_by_cell() -> None:
    assert read._blank([None, "  ", ""])
    assert not read._blank([None, 0, ""])
    assert not read._blank([None, date(2026, 1, 2)])
    assert read._blank([" ", "\t"]) and not read._blank([" ", "x"])


DATE_TEXT = st.one_of(
    st.dates().map(date.isoformat),
    st.dates().map(lambda d: f"{d.month}/{d.day}/{d.year}"),
    st.dates().map(lambda d: f"{d.day}.{d.month}.{d.year}"),
    st.text(alphabet=st.sampled_from(list("0123456789/-. aJnFebx")), max_size=12),
)


@given(DATE_TEXT, st.sampled_from(["month-first", "day-first"]))
def test_a_date_read_once_reads_as_parse_date_every_time(text: str, order: str) -> None:
    for _ in range(2):  # the second read comes from the cache
        try:
            expected: date | str = parse_date(text, order)
        except ValueError as exc:
            expected = f"error: {exc}"
        try:
            got: date | str = _parse_date(text, order)
        except ValueError as exc:
            got = f"error: {exc}"
        assert got == expected


@given(
    st.one_of(
        st.text(max_size=20),
        st.builds(lambda n, a: f"{n} <{a}>", st.text(max_size=8), st.emails()),
        st.emails(),
    )
)
def test_a_contact_cell_is_parsed_as_find_parsed_it(reference: str) -> None:
    from email.utils import parseaddr

    display, address = parseaddr(reference) if "<" in reference else ("", reference)
    name = display or reference
    email = address.strip().lower() if "@" in address else None
    assert _reference(reference) == (email, name)  # find folds the name, strips it to say it


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
def test_an_ascii_name_folds_as_nfkc_and_casefold_fold_it(name: str) -> None:
    import unicodedata

    from breadcrumbs.validate import fold_name

    fold_name.cache_clear()
    expected = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    assert fold_name(name) == expected


def test_an_ambiguous_name_names_everyone_who_shares_it_each_time(tmp_path: Path) -> None:
    folder = tmp_path / "sheet"
    folder.mkdir()
    (folder / "contacts.csv").write_text(
        "email,name\na@example.com,Sam Lee\nb@example.com,Sam Lee\n", encoding="utf-8"
    )
    (folder / "interactions.csv").write_text(
        "date,contact\n2026-01-02,Sam Lee\n2026-01-03,sam  lee\n", encoding="utf-8"
    )
    out = validate(read_source(str(folder)))
    reasons = [r.reason for r in out.rejects if r.column == "contact"]
    assert reasons == [
        "ambiguous name: 2 contacts are named 'Sam Lee': a@example.com (contacts.csv row 2), "
        "b@example.com (contacts.csv row 3); write the email to say which",
        "ambiguous name: 2 contacts are named 'sam  lee': a@example.com (contacts.csv row 2), "
        "b@example.com (contacts.csv row 3); write the email to say which",
    ]


def test_a_stage_that_fails_leaves_garbage_collection_as_it_found_it(tmp_path: Path) -> None:
    import gc

    import pytest

    from breadcrumbs.collector import collector_paused
    from breadcrumbs.errors import SourceError
    from breadcrumbs.sync import read_stage

    assert gc.isenabled()
    with pytest.raises(SourceError):
        read_stage(str(tmp_path / "no such folder"))
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
