"""A plain CSV sheet read by DuckDB itself, never row by row in Python (issue 11).

A million-row conversations sheet cost a Python dict per row to read and a record per row to
load. When a file is plain enough that DuckDB's `read_csv` splits it exactly as the csv
module does (no quote character at all, so no cell spans lines; `\\n` or `\\r\\n` line ends; UTF-8
without a BOM; no blank line; no whitespace but spaces around a cell; the header on the
first line), `stage_csv` says how to read it and validate.py judges it set-wise (each
distinct cell once, by its own functions). Anything else is read by read.py as before.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

from breadcrumbs.sources.headers import find_header_row, map_headers

# Whitespace str.strip() removes besides the space (in UTF-8): DuckDB's trim() removes only
# spaces, so a file holding any of these is read by the csv module instead. Each is looked
# for by a plain search (a regular expression over 100 MB took a second).
_OTHER_SPACE = (
    b"\t",
    b"\x0b",
    b"\x0c",
    b"\x1c",
    b"\x1d",
    b"\x1e",
    b"\x1f",
    b"\xc2\x85",
    b"\xc2\xa0",
    b"\xe1\x9a\x80",
    b"\xe2\x81\x9f",
    b"\xe3\x80\x80",
)
# U+2000..U+200A, U+2028, U+2029, U+202F: \xe2\x80 then one of these.
_OTHER_SPACE_E2_80 = re.compile(rb"\xe2\x80[\x80-\x8a\xa8\xa9\xaf]")


# Every byte that starts something `_odd` refuses; the rest of a file is dropped in one pass
# (bytes.translate, ~0.06 s for 100 MB, where the searches below took 0.5 s one by one).
_ODD_BYTES = b'"\x00\x01' + bytes(sorted({s[0] for s in _OTHER_SPACE}))
_NOT_ODD = bytes(b for b in range(256) if b not in _ODD_BYTES)


# `_ODD_BYTES`, line ends and the delimiters stage_csv may pick: what stage_csv counts and
# `_odd` looks at, kept in order by the one pass over the file (the rest dropped).
_KEPT_BYTES = _ODD_BYTES + b"\r\n,;"
_NOT_KEPT = bytes(b for b in range(256) if b not in _KEPT_BYTES)


def _odd(data: bytes, kept: bytes | None = None) -> bool:
    """A quote, a NUL, DuckDB's null string (\\x01, never a cell's text), or whitespace
    other than the space somewhere in `data`. `kept`: `data` without the bytes outside
    `_KEPT_BYTES`, if made already (it holds every byte of `_ODD_BYTES`, in order)."""
    odd = (data if kept is None else kept).translate(None, _NOT_ODD)
    if not odd:  # none of those bytes at all: most sheets
        return False
    return bool(
        b'"' in odd
        or b"\x00" in odd
        or b"\x01" in odd
        or any(space in data for space in _OTHER_SPACE)
        or (b"\xe2\x80" in data and _OTHER_SPACE_E2_80.search(data))
    )


def _utf8(data: bytes) -> bool:
    """Whether `data` is UTF-8, decoded a piece at a time (one str of a 100 MB file would
    cost up to 400 MB at its peak)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), 1 << 20):
            decoder.decode(data[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


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
    # One pass keeps the bytes counted below and the ones `_odd` looks at (~7 MB of 108):
    # counting them there gives the file's counts, as dropping bytes keeps the rest's number.
    kept = data.translate(None, _NOT_KEPT)
    new_lines = kept.count(b"\n")
    # Lines end in \n, or all in \r\n (Excel's and the csv module's own): never a lone \r.
    # (\r\n is counted in the file itself: a dropped byte between \r and \n is no line end.)
    crlf = b"\r" in kept
    if crlf and not kept.count(b"\r") == data.count(b"\r\n") == new_lines:
        return None
    end = b"\r\n" if crlf else b"\n"
    if (
        not data
        or data.isspace()  # `not data.strip()` without a copy of the file
        or _odd(data, kept)
        or data.startswith((b"\xef\xbb\xbf", end))
        or end + end in data
        or not (data.isascii() or _utf8(data))  # ASCII is UTF-8: no need to decode it
    ):
        return None
    text = data[: 1 << 20].decode("utf-8", errors="ignore")  # the header and a few rows
    first_line = text.split(end.decode(), 1)[0]
    delimiter = ","  # read.parse_csv_text's choice, from the first line
    if first_line.count("\t") > first_line.count(",") and "\t" in first_line:
        delimiter = "\t"
    elif first_line.count(";") > first_line.count(",") and ";" in first_line:
        delimiter = ";"
    head = list(csv.reader(text.split(end.decode(), 30)[:30], delimiter=delimiter))
    del text
    if find_header_row(head, name) != 0:
        return None
    header = [c.strip() for c in head[0]]
    mapping = map_headers(name, header)
    columns: dict[str, list[int]] = {}
    for index, column in mapping.columns.items():
        columns.setdefault(column, []).append(index)
    lines = new_lines + (0 if data.endswith(end) else 1) - 1
    if lines < 1 or not header:
        return None
    return StagedSheet(
        name,
        path,
        file,
        delimiter,
        len(head[0]),
        columns,
        kept.count(delimiter.encode()),  # every delimiter stage_csv picks is kept
        lines,
        mapping.export,
        end.decode(),
    )
