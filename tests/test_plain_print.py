"""The commands' reports written without rich (breadcrumbs/plain_print.py) are byte for byte
what rich writes when it writes plain text: tables and lines of any plain content, at any
width, compared with rich itself; and anything else still goes through rich."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from breadcrumbs import plain_print
from breadcrumbs.plain_print import Printer, line_text, plain, table_text


def rich_table(
    title: str, columns: list[tuple[str, str]], rows: list[list[str]], width: int
) -> str:
    out = io.StringIO()
    table = Table(title=title)
    for header, overflow in columns:
        if overflow == "ellipsis":
            table.add_column(header)
        else:
            table.add_column(header, overflow=overflow)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    Console(file=out, width=width).print(table)
    return out.getvalue()


def rich_line(text: str, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width).print(text)
    return out.getvalue()


# Words as the reports hold them: addresses, names, states, reasons, long unbroken runs,
# runs of spaces; plain ASCII (what plain_print takes on).
_WORD = st.sampled_from(
    [
        "person5105@example.com",
        "thank-you",
        "Thanks",
        "for",
        "the",
        "coffee,",
        "First12",
        "written",
        "skipped",
        "a",
        "",
        "x" * 30,
        "withdrawn",
        "(outbox)",
        "-",
        "dry run",
    ]
) | st.text(alphabet="abcdefghij .,-_@()'\"/=", max_size=25)
_TEXT = st.lists(_WORD, max_size=8).map(" ".join) | _WORD


@settings(max_examples=400, deadline=None)
@given(
    st.integers(10, 160),
    _TEXT,
    st.lists(st.tuples(_TEXT, st.sampled_from(["fold", "ellipsis"])), min_size=1, max_size=5),
    st.data(),
)
def test_a_table_is_laid_out_as_rich_lays_it_out(
    width: int, title: str, columns: list[tuple[str, str]], data: Any
) -> None:
    rows = data.draw(
        st.lists(st.lists(_TEXT, min_size=len(columns), max_size=len(columns)), max_size=5)
    )
    mine = table_text(title, columns, rows, width)
    if mine is not None:
        assert mine == rich_table(title, columns, rows, width)


def test_the_reports_table_is_written_without_rich_at_the_usual_widths() -> None:
    """At 80 (a pipe), 100 and 250 columns (the tests) the commands' tables are plain."""
    columns = [
        ("to", "fold"),
        ("kind", "ellipsis"),
        ("subject", "ellipsis"),
        ("state", "ellipsis"),
        ("why", "ellipsis"),
    ]
    rows = [
        [f"person{i}@example.com", "thank-you", f"Thanks for the coffee, First{i}", "written", ""]
        for i in range(40)
    ]
    for width in (80, 100, 250):
        mine = table_text("Follow-up (outbox)", columns, rows, width)
        assert mine is not None
        assert mine == rich_table("Follow-up (outbox)", columns, rows, width)


@settings(max_examples=400, deadline=None)
@given(st.integers(10, 160), _TEXT)
def test_a_line_is_wrapped_as_rich_wraps_it(width: int, text: str) -> None:
    assert line_text(text, width) == rich_line(text, width)


@pytest.mark.parametrize(
    "text", ["[bold]x[/bold]", "a :smile: b", "tab\there", "Zoë", "王芳", "a\nb", "bell\x07"]
)
def test_text_rich_would_change_goes_through_rich(
    text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not plain(text)
    monkeypatch.setenv("COLUMNS", "80")
    Printer().print(text)
    assert capsys.readouterr().out == rich_line(text, 80)


def test_the_width_is_richs(monkeypatch: pytest.MonkeyPatch) -> None:
    """COLUMNS when it is a number, else a terminal's, else 80; no plain text for a
    terminal, forced colour or another encoding."""

    class Out(io.StringIO):
        encoding = "utf-8"
        tty = False

        def isatty(self) -> bool:
            return self.tty

    out = Out()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(plain_print.os, "get_terminal_size", _no_terminal)
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    assert plain_print.console_width() == 80 == Console().width
    monkeypatch.setenv("COLUMNS", "123")
    assert plain_print.console_width() == 123 == Console().width
    monkeypatch.setenv("COLUMNS", "wide")
    assert plain_print.console_width() == 80 == Console().width
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert plain_print.console_width() is None and Console().is_terminal
    monkeypatch.delenv("FORCE_COLOR")
    out.tty = True
    assert plain_print.console_width() is None and Console().is_terminal
    out.tty = False
    Out.encoding = "latin-1"
    assert plain_print.console_width() is None


def _no_terminal(descriptor: int) -> Any:
    raise OSError("not a terminal")
