"""What `follow-up` and `digest` print, written without rich when rich would write plain text.

The two commands print their outcome table and a few lines through rich (15.x); importing it
and laying out one table cost about 0.05 CPU-s of each command (issue 11). When the output is
not a terminal (a pipe, a file, a test's runner) rich writes no colour or style, only text.
This module writes that same text for what the commands print (printable ASCII without
markup brackets or emoji codes), laid out as rich lays it out: the console width (COLUMNS,
else a terminal on stdin/stdout/stderr, else 80), word wrap and folding, the table's column
widths (measured, then narrowed widest first), its heavy-headed box and centred title.
Anything else (a terminal, FORCE_COLOR, a non-UTF-8 stdout, Jupyter, a cell with other
characters, a width too narrow for the table) goes through rich, as before.
tests/test_plain_print.py compares the two over random tables, lines and widths.
"""

from __future__ import annotations

import builtins
import itertools
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

# Printable ASCII, without "[" (rich's markup) and without `:word:` (its emoji codes).
_PLAIN = re.compile(r"[\x20-\x5a\x5c-\x7e]*")
_EMOJI = re.compile(r":\S*:")
_WORD = re.compile(r"\s*\S+\s*")
_TRAILING = re.compile(r"\s+$")


def plain(text: object) -> bool:
    """Rich would write `text` as it is (a str without markup, emoji or wide characters)."""
    return type(text) is str and _PLAIN.fullmatch(text) is not None and not _EMOJI.search(text)


def console_width() -> int | None:
    """The width rich's Console() would lay out at, when it would write plain text to
    sys.stdout; None when it would not (a terminal, colour forced, Jupyter, IDLE, an
    encoding other than UTF-8)."""
    environ = os.environ
    if hasattr(builtins, "get_ipython"):
        return None
    if getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return None
    compatible = environ.get("TTY_COMPATIBLE", "")
    if compatible == "1" or (compatible != "0" and environ.get("FORCE_COLOR") is not None):
        return None
    out = sys.stdout
    if compatible != "0":
        isatty = getattr(out, "isatty", None)
        try:
            if isatty is not None and isatty():
                return None
        except ValueError:
            pass
    encoding = (getattr(out, "encoding", "utf-8") or "utf-8").lower()
    if not encoding.startswith("utf"):
        return None
    columns = environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        width = int(columns)
    else:
        width = 0
        for descriptor in (0, 1, 2):
            try:
                width = os.get_terminal_size(descriptor)[0]
            except (AttributeError, ValueError, OSError):
                continue
            break
        width = width or 80
    return width if 10 <= width <= 10_000 else None


def _divide(text: str, width: int, fold: bool) -> list[int]:
    """rich._wrap.divide_line for single-cell text."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(text):
        start, _ = match.span()
        word = match.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            if fold:
                chunks = [word[i : i + width] for i in range(0, len(word), width)]
                for index, chunk in enumerate(chunks):
                    if start:
                        breaks.append(start)
                    if index == len(chunks) - 1:
                        offset = len(chunk)
                    else:
                        start += len(chunk)
            else:
                if start:
                    breaks.append(start)
                offset = len(word)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def _truncate(line: str, width: int, overflow: str, pad: bool = False) -> str:
    length = len(line)
    if length > width:
        line = line[: width - 1] + "…" if overflow == "ellipsis" else line[:width]
    if pad and length < width:
        line += " " * (width - length)
    return line


def wrap(text: str, width: int, justify: str, overflow: str) -> list[str]:
    """rich's Text.wrap of a single-line, single-cell text."""
    offsets = _divide(text, width, overflow == "fold")
    bounds = [0, *offsets, len(text)]
    lines = [text[a:b] for a, b in itertools.pairwise(bounds)]
    out = []
    for line in lines:
        if len(line) > width:  # rstrip_end
            trailing = _TRAILING.search(line)
            if trailing is not None:
                line = line[: len(line) - min(len(trailing.group(0)), len(line) - width)]
        if justify == "left":
            line = _truncate(line, width, overflow, pad=True)
        elif justify == "center":
            line = _truncate(line.rstrip(), width, overflow)
            left = (width - len(line)) // 2
            line = " " * max(left, 0) + line
            line += " " * max(width - len(line), 0)
        out.append(_truncate(line, width, overflow))
    return out


def line_text(text: str, width: int) -> str:
    """What rich's console.print(text) writes at this width."""
    return "".join(line[:width] + "\n" for line in wrap(text, width, "default", "fold"))


def _measure(text: str, width: int) -> tuple[int, int]:
    """rich's Measurement of a table cell (a str in Padding(0, 1)) at `width`."""
    if width < 1:
        return 0, 0
    if width - 2 < 1:
        low, high = width, width
    else:
        inner = width - 2
        longest = len(text)
        words = text.split()
        shortest = max(len(w) for w in words) if words else longest
        low, high = min(shortest, inner), min(longest, inner)
        low = min(max(0, low), high)
        low, high = max(0, low), max(0, max(low, high))
        if high < 1:
            low, high = 0, 0
        low, high = min(low + 2, width), min(high + 2, width)
    low = min(max(0, low), high)
    low, high = max(0, low), max(0, max(low, high))
    if high < 1:
        return 0, 0
    return low, high


def _column(cells: Sequence[str], width: int) -> tuple[int, int]:
    if width < 1:
        return 0, 0
    measured = [_measure(cell, width) for cell in cells]
    low = max(m[0] for m in measured) if measured else 1
    high = max(m[1] for m in measured) if measured else width
    return min(low, width), min(high, width)


def _ratio_reduce(
    total: int, ratios: list[int], maximums: list[int], values: list[int]
) -> list[int]:
    ratios = [ratio if top else 0 for ratio, top in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    result = []
    for ratio, top, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            distributed = min(top, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def _collapse(widths: list[int], limit: int) -> list[int]:
    total = sum(widths)
    excess = total - limit
    while total and excess > 0:
        widest = max(widths)
        second = max(w if w != widest else 0 for w in widths)
        difference = widest - second
        ratios = [1 if w == widest else 0 for w in widths]
        if not any(ratios) or not difference:
            break
        widths = _ratio_reduce(excess, ratios, [min(excess, difference)] * len(widths), widths)
        total = sum(widths)
        excess = total - limit
    return widths


def table_text(
    title: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], width: int
) -> str | None:
    """What rich's console.print(Table(title=...)) writes at this width, the columns given
    as (header, overflow), every cell a str; None if it would not fit the layout here."""
    cells = [[header for header, _ in columns], *[list(row) for row in rows]]
    by_column = [[row[i] for row in cells] for i in range(len(columns))]
    limit = width - (len(columns) + 1)
    ranges = [_column(column, limit) for column in by_column]
    widths = [high or 1 for _, high in ranges]
    if sum(widths) > limit:
        widths = _collapse(widths, limit)
        if sum(widths) > limit:
            excess = sum(widths) - limit
            widths = _ratio_reduce(excess, [1] * len(widths), widths, widths)
        widths = [_column(column, w)[1] or 0 for column, w in zip(by_column, widths, strict=True)]
    if min(widths) < 3 or sum(widths) + len(columns) + 1 > width:
        return None
    out = [line_text_centred(title, sum(widths) + len(columns) + 1)] if title else []
    out.append("┏" + "┳".join("━" * w for w in widths) + "┓\n")
    for index, row in enumerate(cells):
        header = index == 0
        rendered = [
            [f" {line} " for line in wrap(cell, w - 2, "left", overflow)]
            for cell, w, (_, overflow) in zip(row, widths, columns, strict=True)
        ]
        height = max(len(lines) for lines in rendered)
        for lines, w in zip(rendered, widths, strict=True):
            blank = [" " * w] * (height - len(lines))
            lines[:] = blank + lines if header else lines + blank
        edge = "┃" if header else "│"
        for number in range(height):
            out.append(edge + edge.join(lines[number] for lines in rendered) + edge + "\n")
        if header:
            out.append("┡" + "╇".join("━" * w for w in widths) + "┩\n")
    out.append("└" + "┴".join("─" * w for w in widths) + "┘\n")
    return "".join(out)


def line_text_centred(text: str, width: int) -> str:
    return "".join(line + "\n" for line in wrap(text, width, "center", "fold"))


class Printer:
    """console.print for the commands' reports: plain text where rich would write it, rich
    (made on first need) elsewhere."""

    def __init__(self) -> None:
        self.width = console_width()
        self._console: Any = None

    def _rich(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console()
        return self._console

    def print(self, text: Any) -> None:
        if self.width is not None and plain(text):
            sys.stdout.write(line_text(text, self.width))
            sys.stdout.flush()
            return
        self._rich().print(text)

    def table(
        self, title: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
    ) -> None:
        """A rich Table of these columns ((header, overflow)) and rows, printed."""
        texts = [title, *(h for h, _ in columns), *(cell for row in rows for cell in row)]
        if self.width is not None and all(plain(t) for t in texts):
            done = table_text(title, columns, rows, self.width)
            if done is not None:
                sys.stdout.write(done)
                sys.stdout.flush()
                return
        from rich.table import Table

        table = Table(title=title)
        for header, overflow in columns:
            if overflow == "ellipsis":
                table.add_column(header)
            else:
                table.add_column(header, overflow=overflow)  # type: ignore[arg-type]
        for row in rows:
            table.add_row(*row)
        self._rich().print(table)
