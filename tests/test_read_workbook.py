"""Reading .xlsx workbooks: python-calamine gives the cells openpyxl's read-only iteration gave.

Workbooks are written here by openpyxl; a formula's last value, which openpyxl does not write,
is put into the sheet's XML by hand, as Excel would have saved it.
"""

from __future__ import annotations

import gc
import re
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from breadcrumbs.errors import SourceError
from breadcrumbs.sources.read import (
    Cell,
    RawTable,
    _read_workbook,
    _read_workbook_openpyxl,
    read_source,
)
from breadcrumbs.validate import validate

EVERY_KIND = [
    ["Email", "Phone", "Year", "Score", "Opt out", "Met", "Call", "At", "Took", "Sum", "Notes"],
    ["ada@example.com", 5550100, 2024, 2.5, True, date(2026, 11, 6), datetime(2026, 11, 5, 14, 30),
     time(9, 15), timedelta(hours=30), "=1+1", "  padded  "],
    [None, 0, -3, 1e20, False, datetime(2026, 11, 3), datetime(2026, 11, 5, 14, 30, 15, 500000),
     time(0, 0), None, "=A1", ""],
    [None] * 11,  # a blank row in the middle keeps the numbering of the rows below it
    ["grace@example.com", 12345678901234, 2.0, 0.1, None, 46329, 46330.75, None, None,
     "=SUM(B2:B3)", "0123"],
    ["", "+1 555 0100", "2024", "-0.5", "yes", "2026-11-03", "", "", "", "", "Ünïcødé ✓"],
]  # fmt: skip

# The last value Excel saved with each formula: (cell, type attribute, value).
CACHED = [("J2", "", "2"), ("J3", ' t="str"', "Email"), ("J5", "", "5550100")]


def _cache_formulas(path: Path, sheet: str, cached: list[tuple[str, str, str]]) -> None:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    xml = files[sheet].decode()
    for cell, kind, value in cached:
        xml, found = re.subn(
            rf'<c r="{cell}"([^>]*)><f>([^<]*)</f><v\s*/>',
            rf'<c r="{cell}"\1{kind}><f>\2</f><v>{value}</v>',
            xml,
        )
        assert found == 1, cell
    files[sheet] = xml.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def write_every_kind(path: Path) -> Path:
    """Every kind of cell a person's workbook holds, in contacts and in interactions."""
    book = Workbook()
    contacts = book.active
    assert contacts is not None
    contacts.title = " Contacts "  # titles are matched stripped and in any case
    for row in EVERY_KIND:
        contacts.append(row)
    contacts["F5"].number_format = "yyyy-mm-dd"  # serials shown as dates
    contacts["G5"].number_format = "yyyy-mm-dd hh:mm"
    contacts["B5"].number_format = "0.00"
    interactions = book.create_sheet("INTERACTIONS")  # from B3: a blank row and column first
    rows: list[list[object]] = [
        ["Date", "Contact", "Kind"],
        [datetime(2026, 11, 3), "ada@example.com", "coffee"],
        [46330, "Grace Hopper", "call"],
    ]
    for r, row in enumerate(rows, start=3):
        for c, value in enumerate(row, start=2):
            interactions.cell(row=r, column=c, value=value)
    hidden = book.create_sheet("Old prospects")
    hidden.append(["Company", "Role"])
    hidden.sheet_state = "hidden"
    book.save(path)
    _cache_formulas(path, "xl/worksheets/sheet1.xml", CACHED)
    return path


def _cells(cells: list[Cell]) -> list[tuple[str, Cell]]:
    return [(type(c).__name__, c) for c in cells]


def _typed(tables: list[RawTable]) -> list[tuple[Any, ...]]:
    """Tables as plain data, each cell with its type: 2 and 2.0, a date and a datetime differ."""
    return [
        (t.name, t.file, t.header_row, t.header, t.unread, [(n, _cells(c)) for n, c in t.rows])
        for t in tables
    ]


def test_calamine_reads_every_kind_of_cell_as_openpyxl_does(tmp_path: Path) -> None:
    """Numbers stay int (a phone is 5550100, never 5550100.0), a date cell is a datetime,
    empty is None, a formula gives its last value; the same rows, numbered the same."""
    path = write_every_kind(tmp_path / "network.xlsx")
    ours = _read_workbook(path)
    assert _typed(ours) == _typed(_read_workbook_openpyxl(path))
    contacts = ours[0]
    assert contacts.file == "network.xlsx[ Contacts ]"
    assert [n for n, _ in contacts.rows] == [2, 3, 5, 6]
    assert contacts.rows[0][1][1:3] == [5550100, 2024]
    assert contacts.rows[0][1][5] == datetime(2026, 11, 6)
    assert contacts.rows[0][1][9] == 2  # =1+1, as Excel last computed it
    assert ours[1].header_row == 3
    assert ours[1].rows[0] == (4, [None, datetime(2026, 11, 3), "ada@example.com", "coffee"])


def test_a_hidden_sheet_still_counts_as_a_sheet(tmp_path: Path) -> None:
    """As with openpyxl: a sheet and a hidden one are two sheets, so neither is assumed to be
    the contacts; the refusal names both."""
    book = Workbook()
    people = book.active
    assert people is not None
    people.title = "People"
    people.append(["Email", "Name"])
    old = book.create_sheet("Old")
    old.append(["Email", "Name"])
    old.sheet_state = "hidden"
    book.save(tmp_path / "network.xlsx")
    refused = "network.xlsx: no sheet named contacts (sheets: People, Old)"
    with pytest.raises(SourceError, match=re.escape(refused)):
        read_source(str(tmp_path / "network.xlsx"))


def _with_error_cell(path: Path) -> Path:
    """A contacts sheet whose email column is a lookup that failed: #N/A, as Excel saves it."""
    book = Workbook()
    contacts = book.active
    assert contacts is not None
    contacts.title = "Contacts"
    contacts.append(["Email", "Name"])
    contacts.append(["=VLOOKUP(B2,Other!A:B,2,FALSE)", "Ada Lovelace"])
    contacts.append(["grace@example.com", "Grace Hopper"])
    blank = book.create_sheet("Interactions")
    blank["C4"].number_format = "0.00"  # formatted, never filled
    book.save(path)
    _cache_formulas(path, "xl/worksheets/sheet1.xml", [("A2", ' t="e"', "#N/A")])
    return path


def test_a_formula_error_is_read_as_its_text_and_rejected(tmp_path: Path) -> None:
    """calamine reads #N/A as an empty cell; the workbook goes through openpyxl instead, so
    the person is refused for an invalid email rather than loaded without one."""
    path = _with_error_cell(tmp_path / "network.xlsx")
    (contacts,) = read_source(str(path))  # the formatted, empty interactions sheet is skipped
    assert dict(contacts.rows)[2]["email"] == "#N/A"
    rejects = [(r.row, r.column, r.reason) for r in validate([contacts]).rejects]
    assert [(row, column) for row, column, reason in rejects if "invalid email" in reason] == [
        (2, "email")
    ]


def test_reading_a_workbook_leaves_the_cycle_collector_as_it_was(tmp_path: Path) -> None:
    """The collector is paused while the cells are made, and on again after, even when the
    workbook is refused."""
    assert gc.isenabled()
    read_source(str(write_every_kind(tmp_path / "network.xlsx")))
    assert gc.isenabled()
    book = Workbook()
    book.create_sheet("People")
    book.save(tmp_path / "refused.xlsx")
    with pytest.raises(SourceError, match="no sheet named contacts"):
        read_source(str(tmp_path / "refused.xlsx"))
    assert gc.isenabled()


def test_a_mac_1904_workbook_and_rich_text_read_as_openpyxl_does(tmp_path: Path) -> None:
    """Dates count from 1904 in a workbook saved so on a Mac; bold words are plain text."""
    book = Workbook()
    book.epoch = CALENDAR_MAC_1904
    contacts = book.active
    assert contacts is not None
    contacts.title = "contacts"
    contacts.append(["Email", "Met", "Name"])
    bold = CellRichText(["Ada ", TextBlock(InlineFont(b=True), "Lovelace")])
    contacts.append(["ada@example.com", datetime(2026, 11, 3, 10), bold])
    contacts.append(["grace@example.com", date(2026, 11, 4), "Grace Hopper"])
    contacts.append(["alan@example.com", 45000, "Alan Turing"])
    contacts["B4"].number_format = "yyyy-mm-dd"
    book.save(tmp_path / "mac.xlsx")
    ours = _read_workbook(tmp_path / "mac.xlsx")
    assert _typed(ours) == _typed(_read_workbook_openpyxl(tmp_path / "mac.xlsx"))
    assert [cells[1:] for _, cells in ours[0].rows] == [
        [datetime(2026, 11, 3, 10), "Ada Lovelace"],
        [datetime(2026, 11, 4), "Grace Hopper"],
        [datetime(2027, 3, 16), "Alan Turing"],  # 1900's count would say 2023-03-15
    ]


def test_an_xlsm_workbook_reads_as_its_xlsx_twin(tmp_path: Path) -> None:
    """A workbook saved with macros (.xlsm) is read like any other."""
    path = write_every_kind(tmp_path / "network.xlsx")
    twin = tmp_path / "network.xlsm"
    twin.write_bytes(path.read_bytes())
    assert _typed(_read_workbook(twin)) == [
        (t[0], t[1].replace(".xlsx", ".xlsm"), *t[2:]) for t in _typed(_read_workbook(path))
    ]


def test_a_damaged_sheet_is_refused_naming_the_workbook(tmp_path: Path) -> None:
    """Bytes lost inside a sheet (a bad copy, a truncated download) stop the sync with the
    workbook's name, not a traceback from deep inside the reader."""
    book = Workbook()
    contacts = book.active
    assert contacts is not None
    contacts.title = "contacts"
    contacts.append(["Email", "Name"])
    for n in range(2000):
        contacts.append([f"person{n}@example.com", f"Person {n}"])
    path = tmp_path / "network.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    middle = sheet.header_offset + 100 + sheet.compress_size // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"network\.xlsx: not a readable \.xlsx workbook"):
        read_source(str(path))
