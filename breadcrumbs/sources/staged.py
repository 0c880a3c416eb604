"""A plain CSV sheet read by DuckDB itself, never row by row in Python (issue 11).

A million-row conversations sheet cost a Python dict per row to read and a record per row to
load. When a file is plain enough that DuckDB's `read_csv` splits it exactly as the csv
module does (no quote character at all, so no cell spans lines; `\\n` or `\\r\\n` line ends; UTF-8
without a BOM; no blank line; no whitespace but spaces around a cell; the header on the
first line), `stage_csv` says how to read it and validate.py judges it set-wise (each
distinct cell once, by its own functions). Anything else is read by read.py as before.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from breadcrumbs.sources.headers import find_header_row, map_headers

# Whitespace str.strip() removes besides the space: DuckDB's trim() removes only spaces, so a
# file holding any of these (in UTF-8) is read by the csv module instead.
_OTHER_SPACE = re.compile(
    rb"[\t\x0b\x0c\x1c-\x1f]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]"
    rb"|\xe2\x81\x9f|\xe3\x80\x80"
)


@dataclass(frozen=True)
class StagedSheet:
    """How DuckDB reads a sheet: its file, delimiter, width, and each canonical column's
    source columns in order of preference (the first non-empty one wins, as in `understand`)."""

    name: str
    path: Path
    file: str
    delimiter: str
    width: int
    columns: dict[str, list[int]]
    delimiters: int  # in the whole file: every line has at most `width` cells if it adds up
    lines: int  # data lines below the header
    export: str
    new_line: str  # "\n" or "\r\n"


def stage_csv(path: Path, name: str, file: str) -> StagedSheet | None:
    """The sheet as DuckDB can read it exactly, or None: read.py reads it row by row."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    # Lines end in \n, or all in \r\n (Excel's and the csv module's own): never a lone \r.
    crlf = b"\r" in data
    if crlf and not data.count(b"\r") == data.count(b"\r\n") == data.count(b"\n"):
        return None
    end = b"\r\n" if crlf else b"\n"
    if (
        not data.strip()
        or b'"' in data
        or b"\x00" in data
        or b"\x01" in data  # DuckDB's null string below: never a cell's text
        or data.startswith((b"\xef\xbb\xbf", end))
        or end + end in data
        or _OTHER_SPACE.search(data)
    ):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    first_line = text.split(end.decode(), 1)[0]
    delimiter = ","  # read.parse_csv_text's choice, from the first line
    if first_line.count("\t") > first_line.count(",") and "\t" in first_line:
        delimiter = "\t"
    elif first_line.count(";") > first_line.count(",") and ";" in first_line:
        delimiter = ";"
    head = list(csv.reader(text.split(end.decode(), 31)[:31], delimiter=delimiter))
    del text
    if find_header_row(head, name) != 0:
        return None
    header = [c.strip() for c in head[0]]
    mapping = map_headers(name, header)
    columns: dict[str, list[int]] = {}
    for index, column in mapping.columns.items():
        columns.setdefault(column, []).append(index)
    lines = data.count(b"\n") + (0 if data.endswith(end) else 1) - 1
    if lines < 1 or not header:
        return None
    return StagedSheet(
        name,
        path,
        file,
        delimiter,
        len(head[0]),
        columns,
        data.count(delimiter.encode()),
        lines,
        mapping.export,
        end.decode(),
    )
