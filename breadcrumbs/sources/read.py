"""Read stage: turn a source (folder, workbook, single export, Google Sheet) into raw tables.

A raw table is a header and cells, each row numbered as a spreadsheet shows it (header row
included), so every later message can name the file, row and column. This module judges
nothing but the shape of the file; validate.py judges the values.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from breadcrumbs.collector import collector_paused
from breadcrumbs.errors import SourceError
from breadcrumbs.sources.headers import TABLES, Mapping, find_header_row, map_headers
from breadcrumbs.sources.staged import StagedSheet, stage_csv

Cell = str | int | float | date | datetime | None

# A Google Sheets URL, or a bare spreadsheet ID (44 characters of base64url in practice).
_SHEET_URL = re.compile(r"^https://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]+)")
_SHEET_ID = re.compile(r"^[A-Za-z0-9_-]{30,}$")
# A line fed to the csv module after the file's last: a cell that swallows it opened a quote
# that was never closed. U+FFFE is a noncharacter, which no spreadsheet writes.
_END_OF_FILE = "\ufffeend of file\ufffe"


@dataclass
class RawTable:
    """One sheet as read: header cells and data rows, before any column is understood."""

    name: str  # contacts | interactions | prospects
    file: str  # what error messages call it: "contacts.csv", "network.xlsx[contacts]"
    header_row: int
    header: list[str]
    rows: list[tuple[int, list[Cell]]]  # (row number as a spreadsheet shows it, cells)
    # Rows that could not be read at all: (row, index of the column, reason).
    unread: list[tuple[int, int, str]] = field(default_factory=list)


@dataclass
class Table:
    """A raw table whose columns are understood: canonical column -> cell, per row."""

    name: str
    file: str
    export: str  # "generic", "linkedin", "google", "outlook"
    rows: list[tuple[int, dict[str, Cell]]]
    columns: set[str] = field(default_factory=set)
    unread: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, reason)
    # A plain CSV left for DuckDB to read (sources/staged.py): `rows` stays empty.
    staged: StagedSheet | None = None


SheetReader = Callable[[str], list[RawTable]]


def sheet_id_of(source: str) -> str | None:
    """The spreadsheet ID if `source` names a Google Sheet rather than a local path."""
    match = _SHEET_URL.match(source.strip())
    if match:
        return match.group(1)
    if _SHEET_ID.match(source.strip()) and not Path(source).exists():
        return source.strip()
    return None


def read_source(
    source: str, sheet_reader: SheetReader | None = None, stage: bool = False
) -> list[Table]:
    """Read every table a source holds; raise SourceError if it cannot be read at all.

    `stage`: a folder's plain conversations CSV is not read here but left for DuckDB
    (its Table has `staged` and no rows); only a sync that loads into a store asks that."""
    raw = _read_raw(source, sheet_reader, stage)
    tables = []
    while raw:  # each raw table let go once understood: the two are never all held at once
        first = raw.pop(0)
        tables.append(first if isinstance(first, Table) else understand(first))
    if not any(t.name == "contacts" for t in tables):
        raise SourceError(f"{source}: no contacts found (expected a contacts sheet or CSV)")
    # A contacts sheet with a header and no people is an empty source (issue 2): loading it
    # would replace every contact with nothing, e.g. after an export that stopped early.
    for table in tables:
        if table.name == "contacts" and not table.rows and table.staged is None:
            if table.unread:  # every person is below an unclosed quote: say so, not "none"
                raise SourceError(f"{table.file}: row {table.unread[0][0]}: {table.unread[0][2]}")
            raise SourceError(f"{table.file}: has a header row but no contacts below it")
    return tables


def _read_raw(
    source: str, sheet_reader: SheetReader | None, stage: bool = False
) -> list[RawTable | Table]:
    sheet_id = sheet_id_of(source)
    if sheet_id is not None:
        if sheet_reader is None:
            raise SourceError(f"{source}: Google Sheets needs `breadcrumbs auth` first")
        return list(sheet_reader(sheet_id))
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(f"{source}: no such file or folder")
    if path.is_dir():
        return _read_folder(path, stage)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return list(_read_workbook(path))
    if suffix in (".csv", ".txt", ".tsv"):
        staged = stage_contacts(path, path.name) if stage else None
        if staged is not None:
            return [
                Table("contacts", path.name, staged.export, [], set(staged.columns), staged=staged)
            ]
        return [_read_csv(path, "contacts", path.name)]
    raise SourceError(
        f"{path.name}: not a spreadsheet Breadcrumbs reads; use a folder of CSV files, "
        "an .xlsx workbook, a contacts .csv export or a Google Sheet URL"
    )


def _read_folder(folder: Path, stage: bool = False) -> list[RawTable | Table]:
    by_name = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    tables: list[RawTable | Table] = []
    for name in TABLES:
        path = by_name.get(f"{name}.csv")
        if path is not None and name != "contacts" and _blank_file(path):
            continue  # an optional sheet saved empty: nothing to load, nothing wrong
        staged = None
        if stage and path is not None and name == "interactions":
            staged = stage_csv(path, name, path.name)
        elif stage and path is not None and name == "contacts":
            staged = stage_contacts(path, path.name)
        if staged is not None and path is not None:
            tables.append(
                Table(name, path.name, staged.export, [], set(staged.columns), staged=staged)
            )
        elif path is not None:
            tables.append(_read_csv(path, name, path.name))
        elif name == "contacts":
            raise SourceError(f"{folder}: no contacts.csv in this folder")
    return tables


# The columns a contacts sheet must have one of (`understand` refuses the sheet otherwise).
_WHO = {"email", "name", "first_name", "last_name"}


def stage_contacts(path: Path, file: str) -> StagedSheet | None:
    """A contacts CSV left for DuckDB to read and validate.py to judge set-wise, or None:
    read row by row. As a staged conversations sheet (sources/staged.py), and besides: it
    names people (else `understand` says why not), and no line below the header is blank
    (only delimiters and spaces), so its rows are its lines and it has some."""
    sheet = stage_csv(path, "contacts", file)
    if sheet is None or not _WHO & set(sheet.columns):
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    end = sheet.new_line.encode()
    body = data.split(end, 1)[1] if end in data else b""
    if body.endswith(end):
        body = body[: -len(end)]
    if not body or b"" in body.translate(None, b" " + sheet.delimiter.encode()).split(end):
        return None
    return sheet


def _blank_file(path: Path) -> bool:
    """Nothing but whitespace in the file, read a piece at a time (not a second copy of a
    100 MB sheet, and its stripped copy, to say it is not empty)."""
    with path.open("rb") as handle:
        while piece := handle.read(1 << 16):
            if piece.strip():
                return False
    return True


def decode(data: bytes, file: str) -> str:
    """Decode UTF-8 (with or without Excel's BOM), UTF-16 with or without a BOM, or
    Windows-1252.

    Excel and older Outlook write Windows-1252; a file that is not valid UTF-8 is taken to be
    that, the commonest legacy encoding of the spreadsheets people export.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    unmarked = _utf16_without_bom(data)
    if unmarked is not None:
        return unmarked
    if b"\x00" in data[:4096] and data.count(b"\x00") > len(data) // 4:
        raise SourceError(f"{file}: looks like a binary file, not a spreadsheet")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, so nothing is lost.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _utf16_without_bom(data: bytes) -> str | None:
    """The text of a UTF-16 file that lost its BOM, or None if `data` does not look like one.

    Text in Latin script is mostly ASCII, so UTF-16 of it has a zero byte in every pair, on
    the same side: the odd positions in little-endian, the even ones in big-endian. A binary
    file has zeros on both sides, or none; the decoded start must also be printable text.
    """
    head = data[:1024]
    pairs = [head[i : i + 2] for i in range(0, len(head) - 1, 2)]
    if not pairs or len(data) % 2:
        return None
    low_zero = sum(1 for p in pairs if p[0] == 0 and p[1] != 0)  # big-endian ASCII
    high_zero = sum(1 for p in pairs if p[1] == 0 and p[0] != 0)  # little-endian ASCII
    if high_zero * 2 >= len(pairs) and low_zero == 0:
        encoding = "utf-16-le"
    elif low_zero * 2 >= len(pairs) and high_zero == 0:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if not all(c.isprintable() or c in "\t\r\n" for c in text[:512]):
        return None
    return text


def _read_csv(path: Path, name: str, file: str) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{file}: cannot be read ({exc.strerror})") from None
    text = decode(data, file)
    if not text.strip():
        raise SourceError(f"{file}: the file is empty")
    return parse_csv_text(text, name, file)


def parse_csv_text(text: str, name: str, file: str) -> RawTable:
    sample = text[:8192]
    delimiter = ","
    first_line = sample.split("\n", 1)[0]
    if first_line.count("\t") > first_line.count(",") and "\t" in first_line:
        delimiter = "\t"
    elif first_line.count(";") > first_line.count(",") and ";" in first_line:
        delimiter = ";"
    # The csv module refuses a cell over 128 KiB by default, which would fail the whole file
    # for one pasted essay in a notes cell; 64 MiB still bounds a runaway quote.
    csv.field_size_limit(64 * 1024 * 1024)
    # Replace NULs: the csv module refuses them, and they can never be part of a good value.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    reader = csv.reader(itertools.chain(_lines(text), [_END_OF_FILE + "\n"]), delimiter=delimiter)
    records: list[list[str]] = []
    try:
        records.extend(reader)  # the csv module gives each record as a new list
    except csv.Error as exc:
        raise SourceError(f"{file}: not a readable CSV file ({exc})") from None
    last = records.pop()
    if last == [_END_OF_FILE]:
        return raw_from_records(records, name, file)
    # The csv module reads an unclosed quote to the end of the file without a word, so the
    # people below it would vanish inside one cell: refuse that row and name what was lost.
    row = len(records) + 1
    swallowed = str(last[-1]).rsplit(_END_OF_FILE, 1)[0].rstrip("\r\n")
    end = row + len(swallowed.splitlines()) - 1
    rows = f"rows {row}..{end}" if end > row else f"row {row}"
    reason = f"unclosed quote: {rows} could not be read; close the quote"
    try:
        raw = raw_from_records(records, name, file)
    except SourceError:  # the header itself opens the quote
        raise SourceError(f"{file}: row {row}: {reason}") from None
    raw.unread.append((row, len(last) - 1, reason))
    return raw


# A line as io.StringIO(newline="") gives it: up to and with its \n, \r or \r\n, or the rest.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _lines(text: str) -> Iterator[str]:
    """The text's lines, one at a time: a StringIO holds a second copy of the whole file at
    four bytes a character (a million-row sheet: several hundred MiB for nothing)."""
    for match in _LINE.finditer(text):
        yield match.group()


def raw_from_records(records: Sequence[Sequence[Cell]], name: str, file: str) -> RawTable:
    """Find the header (past a preamble such as LinkedIn's "Notes:") and number the rows."""
    header_index = find_header_row(records, name)
    if header_index is None:
        raise SourceError(
            f"{file}: no header row found; the first row should name the columns "
            f"(for {name}: e.g. {', '.join(_example_columns(name))})"
        )
    header = [str(c).strip() if c is not None else "" for c in records[header_index]]
    rows = []
    for index in range(header_index + 1, len(records)):
        record = records[index]
        cells = record if isinstance(record, list) else list(record)
        if _blank(cells):
            continue
        rows.append((index + 1, cells))
    return RawTable(name, file, header_index + 1, header, rows)


def _blank(cells: list[Cell]) -> bool:
    """Every cell empty or only spaces (a row to skip)."""
    try:
        return not "".join(cells).strip()  # type: ignore[arg-type]  # a CSV row: all text
    except TypeError:  # a workbook's row: numbers, dates, None
        return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _example_columns(name: str) -> list[str]:
    return {
        "contacts": ["email", "name", "company"],
        "interactions": ["date", "contact", "kind", "topic"],
        "prospects": ["company", "role", "stage"],
    }[name]


def _read_workbook(path: Path) -> list[RawTable]:
    """Read a workbook with python-calamine (Rust), its cells made what openpyxl would give.

    calamine reads a formula's error (#N/A) as an empty cell, where openpyxl gives its text and
    validate then rejects it ("invalid email"): a workbook holding one is read by openpyxl.
    """
    import zipfile
    import zlib

    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

    try:
        if _holds_error_cells(path):
            return _read_workbook_openpyxl(path)
        book = CalamineWorkbook.from_path(path)
    except (zipfile.BadZipFile, zlib.error, CalamineError, OSError, KeyError, ValueError) as exc:
        raise SourceError(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
    with book, collector_paused():
        # openpyxl's book.worksheets: hidden sheets included, chart and macro sheets not.
        titles = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]

        def records(title: str) -> list[list[Cell]]:
            try:
                rows = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
            except CalamineError as exc:
                raise SourceError(f"{path.name}[{title}]: not a readable sheet ({exc})") from None
            return [[c if c.__class__ is str and c else _as_openpyxl(c) for c in r] for r in rows]

        return _workbook_tables(path, titles, records)


# A cell marked as a formula error in a sheet's XML: <c r="A2" t="e">.
_ERROR_CELL = re.compile(rb"""<c\s[^>]*\bt\s*=\s*["']e["']""")


def _holds_error_cells(path: Path) -> bool:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with archive.open(name) as sheet:
                    tail = b""
                    while chunk := sheet.read(1 << 20):
                        # A plain search first: the regular expression is ten times slower.
                        seen = tail + chunk
                        if (b'"e"' in seen or b"'e'" in seen) and _ERROR_CELL.search(seen):
                            return True
                        tail = chunk[-256:]
    return False


def _as_openpyxl(value: object) -> Cell:
    """A calamine cell as openpyxl's read-only iteration gives it (tests/test_read_workbook.py).

    Empty is None, not ""; a whole number is an int (a phone, a year: "2024", never "2024.0");
    a date cell is a datetime even when its time is midnight.
    """
    if value == "":
        return None
    if value.__class__ is float:
        if value.is_integer() and -_EXACT < value < _EXACT:
            return int(value)
        return value
    if value.__class__ is date:
        return datetime(value.year, value.month, value.day)
    return value  # type: ignore[return-value]


_EXACT = float(2**53)  # floats beyond this are not exact integers; openpyxl reads "1E+20" as float


def _read_workbook_openpyxl(path: Path) -> list[RawTable]:
    from openpyxl import load_workbook

    # read_only streams rows; data_only gives a formula's last value, never its text.
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = {ws.title: ws for ws in book.worksheets}
        return _workbook_tables(
            path,
            list(sheets),
            lambda title: [list(r) for r in sheets[title].iter_rows(values_only=True)],
        )
    finally:
        book.close()


def _workbook_tables(
    path: Path, titles: list[str], records: Callable[[str], list[list[Cell]]]
) -> list[RawTable]:
    """The contacts, interactions and prospects sheets, found by name whatever the case."""
    sheets = {title.strip().lower(): title for title in titles}
    tables = []
    for name in TABLES:
        title = sheets.get(name)
        if title is None and name == "contacts" and len(titles) == 1:
            title = titles[0]  # a one-sheet workbook is a list of people
        if title is None:
            if name == "contacts":
                raise SourceError(
                    f"{path.name}: no sheet named contacts (sheets: {', '.join(titles)})"
                )
            continue
        rows = records(title)
        if not any(c is not None and c != "" for row in rows for c in row):
            # Formatted cells with nothing in them are an empty sheet too.
            if name == "contacts":
                raise SourceError(f"{path.name}[{title}]: the sheet is empty")
            continue
        tables.append(raw_from_records(rows, name, f"{path.name}[{title}]"))
    return tables


def understand(raw: RawTable) -> Table:
    """Map a raw table's headers to canonical columns (see headers.py)."""
    mapping: Mapping = map_headers(raw.name, raw.header)
    if raw.name == "contacts" and not (
        {"email", "name", "first_name", "last_name"} & set(mapping.columns.values())
    ):
        raise SourceError(
            f"{raw.file}: no email and no name column (headers: {', '.join(raw.header)})"
        )
    rows = []
    columns = list(mapping.columns.items())
    # One string per distinct short value: a sheet repeats its dates, kinds and people on
    # every row, and a million rows kept each copy (peak memory, issue 11).
    same: dict[str, str] = {}
    for number, cells in raw.rows:
        row: dict[str, Cell] = {}
        width = len(cells)
        for index, column in columns:
            value = cells[index] if index < width else None
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
                if len(value) <= 64:
                    value = same.setdefault(value, value)
            if value is None:
                continue
            if column in row:  # a fallback column (E-mail 2) fills only what is empty
                continue
            row[column] = value
        rows.append((number, row))
    unread = [
        (number, mapping.columns.get(index) or _header_at(raw.header, index), reason)
        for number, index, reason in raw.unread
    ]
    return Table(raw.name, raw.file, mapping.export, rows, set(mapping.columns.values()), unread)


def _header_at(header: list[str], index: int) -> str:
    return header[index] if index < len(header) and header[index] else f"column {index + 1}"
