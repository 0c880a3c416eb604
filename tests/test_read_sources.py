"""Reading every kind of source into tables (breadcrumbs/sources/read.py).

The exports under tests/fixtures/exports/ are byte-exact imitations of what LinkedIn, Google
Contacts and Outlook write (see their README); everything else is written here.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from breadcrumbs.errors import SourceError
from breadcrumbs.sources.read import Cell, Table, decode, read_source
from breadcrumbs.validate import validate
from tests.conftest import FIXTURES, write_csv

EXPORTS = FIXTURES / "exports"


def _table(tables: list[Table], name: str) -> Table:
    (found,) = [t for t in tables if t.name == name]
    return found


def _row(table: Table, number: int) -> dict[str, Cell]:
    return dict(table.rows)[number]


def write_workbook(path: Path) -> Path:
    """A workbook as a person keeps one: sheet names capitalised, dates typed both ways."""
    book = Workbook()
    contacts = book.active
    assert contacts is not None
    contacts.title = "Contacts"
    contacts.append(["Email", "First Name", "Last Name", "Company", "Phone", "Opt out"])
    contacts.append(["ada@example.com", "Ada", "Lovelace", "Analytical Engines", 5550100, None])
    contacts.append(["grace@example.com", "Grace", "Hopper", "Navy", None, "yes"])
    interactions = book.create_sheet("Interactions")
    interactions.append(["Date", "Contact", "Kind", "Topic", "Referrals"])
    interactions.append([datetime(2026, 11, 3), "ada@example.com", "coffee", "engines", None])
    interactions.append([46330, "Grace Hopper", "call", "compilers", "Alan Turing"])
    interactions.append(["5 Nov 2026", "Ada Lovelace", "video", "notes", None])
    prospects = book.create_sheet("Prospects")
    prospects.append(["Company", "Role", "Stage", "Referral wanted", "Share"])
    prospects.append(["Navy", "Programmer", "applied", "yes", "no"])
    book.create_sheet("Scratch").append(["ignored", "entirely"])
    book.save(path)
    return path


def test_a_folder_of_csvs_reads_contacts_interactions_and_prospects(tmp_path: Path) -> None:
    """A folder with contacts.csv, interactions.csv and prospects.csv gives three tables."""
    write_csv(tmp_path / "contacts.csv", "email,name\nada@example.com,Ada Lovelace")
    write_csv(tmp_path / "interactions.csv", "date,contact,kind\n2026-11-03,ada@example.com,coffee")
    write_csv(tmp_path / "prospects.csv", "company,role\nNavy,Programmer")
    tables = read_source(str(tmp_path))
    assert [t.name for t in tables] == ["contacts", "interactions", "prospects"]
    assert _row(_table(tables, "interactions"), 2) == {
        "date": "2026-11-03",
        "contact": "ada@example.com",
        "kind": "coffee",
    }
    assert _table(tables, "prospects").file == "prospects.csv"


def test_a_folder_needs_only_its_contacts_csv(tmp_path: Path) -> None:
    """interactions.csv and prospects.csv are optional; file names ignore case."""
    write_csv(tmp_path / "Contacts.CSV", "email,name\nada@example.com,Ada Lovelace")
    assert [t.name for t in read_source(str(tmp_path))] == ["contacts"]


def test_an_xlsx_workbook_reads_its_three_named_sheets(tmp_path: Path) -> None:
    """Sheets contacts/interactions/prospects are found whatever their case; others ignored."""
    tables = read_source(str(write_workbook(tmp_path / "network.xlsx")))
    assert [t.name for t in tables] == ["contacts", "interactions", "prospects"]
    contacts = _table(tables, "contacts")
    assert contacts.file == "network.xlsx[Contacts]"
    assert _row(contacts, 2)["first_name"] == "Ada"


def test_an_xlsx_reads_real_date_cells_excel_serials_and_written_dates(tmp_path: Path) -> None:
    """A date cell, a serial number (46330) and a written date all become dates."""
    tables = read_source(str(write_workbook(tmp_path / "network.xlsx")))
    interactions = _table(tables, "interactions")
    assert _row(interactions, 2)["date"] == datetime(2026, 11, 3)
    assert _row(interactions, 3)["date"] == 46330
    data = validate(tables)
    assert sorted(i.date for i in data.interactions) == [
        date(2026, 11, 3),
        date(2026, 11, 4),
        date(2026, 11, 5),
    ]
    assert [r for r in data.rejects if r.severity == "row"] == []


def test_a_phone_typed_as_a_number_in_excel_keeps_no_decimal_point(tmp_path: Path) -> None:
    """Excel stores 5550100 as a number; it loads as "5550100", not "5550100.0"."""
    data = validate(read_source(str(write_workbook(tmp_path / "network.xlsx"))))
    ada = next(c for c in data.contacts if c.email == "ada@example.com")
    assert ada.phone == "5550100"


def test_a_one_sheet_workbook_is_a_list_of_people(tmp_path: Path) -> None:
    """A workbook with a single sheet of any name is read as contacts."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet1"
    sheet.append(["Name", "E-mail"])
    sheet.append(["Ada Lovelace", "ada@example.com"])
    book.save(tmp_path / "people.xlsx")
    (contacts,) = read_source(str(tmp_path / "people.xlsx"))
    assert contacts.name == "contacts"
    assert _row(contacts, 2) == {"name": "Ada Lovelace", "email": "ada@example.com"}


def test_a_single_csv_is_read_as_contacts(tmp_path: Path) -> None:
    """A lone CSV file is a contacts list, its rows numbered as a spreadsheet shows them."""
    path = write_csv(
        tmp_path / "my people.csv",
        """
        Email,Name,Company
        ada@example.com,Ada Lovelace,Analytical Engines

        grace@example.com,Grace Hopper,Navy
        """,
    )
    (contacts,) = read_source(str(path))
    assert (contacts.name, contacts.file, contacts.export) == (
        "contacts",
        "my people.csv",
        "generic",
    )
    assert [number for number, _ in contacts.rows] == [2, 4]  # the blank row 3 is skipped


@pytest.mark.parametrize(
    ("delimiter", "text"),
    [
        ("tab", "email\tname\nada@example.com\tAda Lovelace\n"),
        ("semicolon", "email;name\nada@example.com;Ada Lovelace\n"),
    ],
)
def test_a_csv_with_tabs_or_semicolons_reads_too(tmp_path: Path, delimiter: str, text: str) -> None:
    """European Excel writes `;` and some tools tabs; both read like commas."""
    path = tmp_path / "contacts.csv"
    path.write_text(text, encoding="utf-8")
    (contacts,) = read_source(str(path))
    assert _row(contacts, 2) == {"email": "ada@example.com", "name": "Ada Lovelace"}


def test_a_linkedin_export_loads_past_its_notes_preamble() -> None:
    """LinkedIn's Connections.csv: the header is found below "Notes:", rows keep real numbers."""
    (contacts,) = read_source(str(EXPORTS / "linkedin-Connections.csv"))
    assert contacts.export == "linkedin"
    # Notes: / the quoted paragraph / a blank line / the header on row 4.
    assert contacts.rows[0][0] == 5
    assert _row(contacts, 5) == {
        "first_name": "Priya",
        "last_name": "Raman",
        "linkedin": "https://www.linkedin.com/in/priya-raman-3b1a2c45",
        "company": "Northwind Traders",
        "title": "Senior Technical Recruiter",
        "connected_on": "14 Mar 2024",
    }


def test_a_linkedin_export_loads_its_people_with_and_without_email() -> None:
    """Blank emails load as unmailable contacts; "Connected On" reads as a date."""
    data = validate(read_source(str(EXPORTS / "linkedin-Connections.csv")))
    by_name = {c.name: c for c in data.contacts}
    assert by_name["Priya Raman"].email is None
    assert not by_name["Priya Raman"].mailable
    assert by_name["Priya Raman"].connected_on == date(2024, 3, 14)
    assert by_name["Marcus Okafor"].email == "marcus.okafor@example.com"
    assert by_name["Marcus Okafor"].company == "Acme Widgets, Inc."
    assert by_name["Vikram Singh"].title == "Sr. IT Recruiter"  # stray spaces trimmed
    assert by_name['Robert "Bob" Nguyễn'].company == "Initech"
    # The privacy-hidden member (",,,,,,21 Nov 2023" on row 12) is the only refusal.
    assert [(r.row, r.severity) for r in data.rejects] == [(12, "row")]


@pytest.mark.parametrize(
    ("fixture", "email", "name", "company", "title"),
    [
        (
            "google-contacts.csv",
            "alice.chen@example.com",
            "Alice Chen",
            "Northwind Traders",
            "Hiring Manager",
        ),
        (
            "google-contacts-legacy.csv",
            "ivan@example.org",
            "Ivan Petrov",
            "Globex, Ltd.",
            "CTO",
        ),
        (
            "outlook-contacts.csv",
            "jose.garcia@example.com",
            "José García",
            "Ñandú Logística S.L.",
            "Head of Data",
        ),
        (
            "outlook-com-contacts.csv",
            "liam.osullivan@example.com",
            "Liam O’Sullivan",
            "O’Reilly’s Pub Group, Ltd.",
            "CFO",
        ),
    ],
)
def test_a_google_or_outlook_export_maps_its_own_columns(
    fixture: str, email: str, name: str, company: str, title: str
) -> None:
    """Google (current, legacy UTF-16) and Outlook (cp1252, web) exports load their people."""
    data = validate(read_source(str(EXPORTS / fixture)))
    person = next(c for c in data.contacts if c.email == email)
    assert (person.name, person.company, person.title) == (name, company, title)
    assert person.mailable


def test_a_google_cell_with_several_addresses_takes_the_first() -> None:
    """Google joins addresses with " ::: "; the first valid one is the contact's email."""
    data = validate(read_source(str(EXPORTS / "google-contacts.csv")))
    bruno = next(c for c in data.contacts if c.name == "Bruno K. Santos")
    assert bruno.email == "bruno@example.com"
    assert bruno.phone == "+44 20 7946 0000"
    assert bruno.relationship == ""  # only system labels ("* myContacts", "* starred")
    alice = next(c for c in data.contacts if c.name == "Alice Chen")
    assert alice.relationship == "Coworkers"


def test_an_outlook_export_keeps_the_job_title_not_the_honorific() -> None:
    """Outlook's Title column ("Dr.") never becomes the contact's title."""
    data = validate(read_source(str(EXPORTS / "outlook-contacts.csv")))
    assert "Dr." not in {c.title for c in data.contacts}


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("cp1252", b""),
        ("utf-16", b""),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
    ],
)
def test_a_csv_decodes_from_utf8_bom_cp1252_and_utf16(
    tmp_path: Path, encoding: str, prefix: bytes
) -> None:
    """UTF-8, UTF-8 with Excel's BOM, Windows-1252 and UTF-16 with or without its BOM all
    read the same text."""
    text = (
        "Email Address,Name,Company\r\nrenee@example.org,Renée Dubois,Crème Brûlée – “Conseil”\r\n"
    )
    path = tmp_path / "contacts.csv"
    path.write_bytes(prefix + text.encode(encoding))
    (contacts,) = read_source(str(path))
    assert _row(contacts, 2) == {
        "email": "renee@example.org",
        "name": "Renée Dubois",
        "company": "Crème Brûlée – “Conseil”",
    }


def test_the_utf8_bom_fixture_reads_its_first_header() -> None:
    """Excel's "CSV UTF-8" BOM does not hide the first header (Email Address)."""
    (contacts,) = read_source(str(EXPORTS / "utf8-bom-contacts.csv"))
    assert _row(contacts, 3) == {
        "email": "jurgen@example.com",
        "name": "Jürgen Groß",
        "company": "Überlingen Präzision GmbH",
    }


def test_the_cp1252_outlook_fixture_is_not_valid_utf8_yet_decodes() -> None:
    """The Outlook fixture really is Windows-1252, and é, ñ, ’ and € come out right."""
    data = (EXPORTS / "outlook-contacts.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = decode(data, "outlook-contacts.csv")
    assert "José" in text and "Ñandú" in text


def _write(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return make


def _missing(folder: Path) -> Path:
    return folder / "no-such-file.csv"


def _folder_without_contacts(folder: Path) -> Path:
    write_csv(folder / "sheet" / "interactions.csv", "date,contact\n2026-11-03,ada@example.com")
    return folder / "sheet"


def _fake_zip_workbook(folder: Path) -> Path:
    with zipfile.ZipFile(folder / "broken.xlsx", "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return folder / "broken.xlsx"


def _workbook_without_contacts(folder: Path) -> Path:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "Budget"
    book.create_sheet("Todo")
    book.save(folder / "other.xlsx")
    return folder / "other.xlsx"


UNREADABLE = {
    "missing file": _missing,
    "empty file": _write("contacts.csv", b""),
    "blank file": _write("contacts.csv", b"  \r\n\r\n"),
    "header and no people": _write("contacts.csv", b"email,name,company\r\n,,\r\n"),
    "not a spreadsheet": _write("resume.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    "no email and no name column": _write("contacts.csv", b"company,title\nAcme,CEO\n"),
    "binary file with nul bytes": _write("contacts.csv", b"\x00\x01\x02\x00" * 500),
    "binary file without nul bytes": _write("contacts.csv", bytes(range(1, 256)) * 40),
    "text named .xlsx": _write("people.xlsx", b"email,name\nada@example.com,Ada\n"),
    "zip that is no workbook": _fake_zip_workbook,
    "workbook without contacts": _workbook_without_contacts,
    "folder without contacts.csv": _folder_without_contacts,
}


@pytest.mark.parametrize("make", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_source_raises_one_clear_source_error(
    tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    """A source that cannot be read at all stops with SourceError naming the file."""
    path = make(tmp_path)
    with pytest.raises(SourceError) as raised:
        read_source(str(path))
    assert path.name in str(raised.value)
    assert raised.value.exit_code == 2


def test_a_google_sheet_url_without_a_reader_asks_for_auth() -> None:
    """A Sheets URL needs `breadcrumbs auth`; with no sheet reader it is a SourceError."""
    url = "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEF/edit"
    with pytest.raises(SourceError, match="auth"):
        read_source(url)
