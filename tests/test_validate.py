"""Judging rows: rejects, merges, referrals and identities (breadcrumbs/validate.py)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from breadcrumbs.sources.read import read_source
from breadcrumbs.validate import Contact, Reject, Validated, parse_bool, validate
from tests.conftest import FIXTURES

EXPORTS = FIXTURES / "exports"


def sheet(folder: Path, **files: str) -> Path:
    """Write `contacts=...`, `interactions=...` as CSV files verbatim (no stripping)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8", newline="")
    return folder


def run(folder: Path, slash_dates: str = "month-first") -> Validated:
    return validate(read_source(str(folder)), slash_dates)


CONTACTS = (
    "email,name,company\n"
    "ada@example.com,Ada Lovelace,Analytical Engines\n"
    "grace@example.com,Grace Hopper,Navy\n"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", True),
        ("Yes", True),
        ("Y", True),
        ("TRUE", True),
        ("true", True),
        ("1", True),
        ("x", True),
        ("✓", True),
        ("opt out", True),
        ("Opted-Out", True),
        ("unsubscribed", True),
        ("Do not email", True),
        ("stop", True),
        ("no", False),
        ("N", False),
        ("FALSE", False),
        ("0", False),
        ("-", False),
        ("none", False),
        ("", False),
        ("   ", False),
        (None, False),
        ("maybe", None),
        ("later", None),
        ("2", None),
    ],
)
def test_a_yes_no_cell_reads_as_true_false_or_unknown(value: str | None, expected: bool) -> None:
    """Yes/no cells forgive case and common spellings; anything else is unknown (None)."""
    assert parse_bool(value) is expected


REJECT_CASES = {
    "invalid email": (
        {"contacts": "email,name\nnot-an-email,Nora Noemail\n"},
        Reject("contacts.csv", 2, "email", "not-an-email", "invalid email", "cell"),
    ),
    "email with two at-signs": (
        {"contacts": "email,name\njane@@example.com,Jane Double\n"},
        Reject("contacts.csv", 2, "email", "jane@@example.com", "invalid email", "cell"),
    ),
    "reserved domain": (
        {"contacts": "email,name\ndan@example.invalid,Dan Invalid\n"},
        Reject("contacts.csv", 2, "email", "dan@example.invalid", "invalid email", "cell"),
    ),
    "unknown contact in an interaction": (
        {
            "contacts": CONTACTS,
            "interactions": "date,contact,kind\n2026-11-03,Nobody Known,call\n",
        },
        Reject("interactions.csv", 2, "contact", "Nobody Known", "unknown contact", "row"),
    ),
    "interaction naming no contact": (
        {"contacts": CONTACTS, "interactions": "date,contact,kind\n2026-11-03,,call\n"},
        Reject("interactions.csv", 2, "contact", "", "no contact named", "row"),
    ),
    "unparseable date": (
        {
            "contacts": CONTACTS,
            "interactions": "date,contact,kind\nsoon,ada@example.com,call\n",
        },
        Reject("interactions.csv", 2, "date", "soon", "unparseable date", "row"),
    ),
    "impossible date": (
        {
            "contacts": CONTACTS,
            "interactions": "date,contact,kind\n31/31/2026,ada@example.com,call\n",
        },
        Reject("interactions.csv", 2, "date", "31/31/2026", "unparseable date", "row"),
    ),
    "missing date": (
        {"contacts": CONTACTS, "interactions": "date,contact,kind\n,ada@example.com,call\n"},
        Reject("interactions.csv", 2, "date", "", "unparseable date", "row"),
    ),
    "line break in name": (
        {"contacts": 'email,name\neve@example.com,"Eve\r\nBcc: victim@example.com"\n'},
        Reject(
            "contacts.csv",
            2,
            "name",
            "Eve\r\nBcc: victim@example.com",
            "control characters in name",
            "cell",
        ),
    ),
    "bidi override in name": (
        {"contacts": "email,name\nrtl@example.com,Invoice \u202efdp.exe\n"},
        Reject("contacts.csv", 2, "name", "Invoice \u202efdp.exe", "control characters", "cell"),
    ),
    "no name and no email": (
        {"contacts": "email,name,company\n,,Ghost Company\n"},
        Reject("contacts.csv", 2, "name", "", "no name and no email", "row"),
    ),
    "opt-out that is not yes or no": (
        {"contacts": "email,name,opt_out\nada@example.com,Ada Lovelace,maybe\n"},
        Reject("contacts.csv", 2, "opt_out", "maybe", "not a yes/no value", "warning"),
    ),
    "prospect without a company": (
        {"contacts": CONTACTS, "prospects": "company,role\n,Programmer\n"},
        Reject("prospects.csv", 2, "company", "", "no company", "row"),
    ),
    "prospect share that is not yes or no": (
        {"contacts": CONTACTS, "prospects": "company,role,share\nNavy,Programmer,perhaps\n"},
        Reject("prospects.csv", 2, "share", "perhaps", "not a yes/no value", "warning"),
    ),
}


@pytest.mark.parametrize(("files", "expected"), REJECT_CASES.values(), ids=REJECT_CASES.keys())
def test_each_reject_names_its_file_row_column_value_and_reason(
    tmp_path: Path, files: dict[str, str], expected: Reject
) -> None:
    """Every refusal is kept with file, spreadsheet row, column, value and a reason."""
    data = run(sheet(tmp_path / "sheet", **files))
    assert len(data.rejects) == 1, data.rejects
    (got,) = data.rejects
    assert (got.file, got.row, got.column, got.value, got.severity) == (
        expected.file,
        expected.row,
        expected.column,
        expected.value,
        expected.severity,
    )
    assert got.reason.startswith(expected.reason)


def test_an_invalid_email_loads_the_contact_without_it_and_never_mailable(
    tmp_path: Path,
) -> None:
    """The cell is refused; the person still loads (they can be called) but is never mailed."""
    data = run(sheet(tmp_path, contacts="email,name,phone\na@b,Abe Bee,555-0100\n"))
    (abe,) = data.contacts
    assert (abe.name, abe.email, abe.phone, abe.mailable) == ("Abe Bee", None, "555-0100", False)
    assert abe.contact_id == "n:abe bee"


def test_a_name_with_control_characters_loads_but_is_never_mailable(tmp_path: Path) -> None:
    """A CR/LF in a name (header injection) keeps the contact, never as a mail target."""
    data = run(sheet(tmp_path, contacts='email,name\neve@example.com,"Eve\nBcc: x@example.com"\n'))
    (eve,) = data.contacts
    assert eve.email == "eve@example.com"
    assert not eve.mailable
    assert eve.unmailable_reason == "control characters in name"


def test_an_unknown_contact_or_bad_date_refuses_only_that_row(tmp_path: Path) -> None:
    """Refused conversation rows do not stop the good ones from loading."""
    folder = sheet(
        tmp_path,
        contacts=CONTACTS,
        interactions=(
            "date,contact,kind\n"
            "2026-11-03,ada@example.com,coffee\n"
            "2026-11-04,Nobody Known,call\n"
            "whenever,grace@example.com,call\n"
            "2026-11-05,Grace Hopper,video\n"
        ),
    )
    data = run(folder)
    assert sorted((i.date, i.kind) for i in data.interactions) == [
        (date(2026, 11, 3), "coffee"),
        (date(2026, 11, 5), "video"),
    ]
    assert sorted((r.row, r.column) for r in data.rejects) == [(3, "contact"), (4, "date")]


def test_emails_differing_in_case_merge_with_the_first_rows_values(tmp_path: Path) -> None:
    """Bob.Smith@Example.COM and bob.smith@example.com are one person; row 2 wins."""
    folder = sheet(
        tmp_path,
        contacts=(
            "email,name,company,title\n"
            "Bob.Smith@Example.COM,Bob Smith,Acme Widgets,\n"
            "bob.smith@example.com,Robert Smith,Globex,Hiring Manager\n"
        ),
    )
    data = run(folder)
    (bob,) = data.contacts
    assert (bob.name, bob.company) == ("Bob Smith", "Acme Widgets")
    assert bob.title == "Hiring Manager"  # a blank in the first row is filled
    assert bob.source_row == 2
    assert data.merged == 1
    conflicts = sorted((r.row, r.column, r.value) for r in data.rejects)
    assert conflicts == [(3, "company", "Globex"), (3, "name", "Robert Smith")]
    assert all(r.severity == "conflict" and "row 2" in r.reason for r in data.rejects)


def test_a_duplicate_that_agrees_merges_without_a_conflict(tmp_path: Path) -> None:
    """The same person entered twice with the same name is merged silently."""
    data = run(
        sheet(
            tmp_path,
            contacts="email,name\nada@example.com,Ada Lovelace\nADA@example.com,ada  lovelace\n",
        )
    )
    assert len(data.contacts) == 1
    assert data.merged == 1
    assert data.rejects == []


def test_opting_out_in_any_duplicate_row_opts_the_person_out(tmp_path: Path) -> None:
    """A later duplicate row that opts out is not lost in the merge."""
    data = run(
        sheet(
            tmp_path,
            contacts="email,name,opt_out\nada@example.com,Ada,no\nAda@Example.com,Ada,yes\n",
        )
    )
    (ada,) = data.contacts
    assert ada.opt_out


@pytest.mark.parametrize(
    ("header", "row", "name", "first_name"),
    [
        ("email,name", "ada@example.com,Ada Lovelace", "Ada Lovelace", "Ada"),
        ("email,first name,last name", "ada@example.com,Ada,Lovelace", "Ada Lovelace", "Ada"),
        ("E-mail,Given Name,Surname", "ada@example.com,Ada,Lovelace", "Ada Lovelace", "Ada"),
        ("email,First Name", "ada@example.com,Ada", "Ada", "Ada"),
        (
            "email,Name,First Name,Last Name",
            "ada@example.com,Countess Ada,Ada,L",
            "Countess Ada",
            "Ada",
        ),
        ("email", "ada@example.com", "ada", ""),
        ("Name", "Ada Lovelace", "Ada Lovelace", "Ada"),
    ],
)
def test_a_name_comes_from_name_or_first_and_last(
    tmp_path: Path, header: str, row: str, name: str, first_name: str
) -> None:
    """Name wins; else first + last are joined; else the email's local part stands in."""
    (contact,) = run(sheet(tmp_path, contacts=f"{header}\n{row}\n")).contacts
    assert (contact.name, contact.first_name) == (name, first_name)


def test_a_contact_is_identified_by_email_else_by_name(tmp_path: Path) -> None:
    """Identifiers are the lower-cased email, else the folded name: stable across syncs."""
    data = run(sheet(tmp_path, contacts="email,name\nAda@Example.COM,Ada\n,  Grace   HOPPER \n"))
    assert sorted(c.contact_id for c in data.contacts) == ["e:ada@example.com", "n:grace hopper"]


def test_referrals_create_the_contacts_they_name(tmp_path: Path) -> None:
    """A referred_by or referrals cell naming someone new creates them, with no email yet."""
    folder = sheet(
        tmp_path,
        contacts=(
            "email,name,referred_by\n"
            "ada@example.com,Ada Lovelace,Charles Babbage\n"
            "grace@example.com,Grace Hopper,ada@example.com\n"
        ),
        interactions=(
            "date,contact,kind,referrals\n"
            "2026-11-03,Grace Hopper,coffee,Alan Turing; Katherine Johnson <kj@example.org>\n"
        ),
    )
    data = run(folder)
    by_id = {c.contact_id: c for c in data.contacts}
    babbage = by_id["n:charles babbage"]
    assert (babbage.email, babbage.mailable, babbage.relationship) == (None, False, "referral")
    assert by_id["e:kj@example.org"].name == "Katherine Johnson"
    assert by_id["e:kj@example.org"].mailable
    assert "n:alan turing" in by_id
    assert data.created == 3
    pairs = {(r.referrer_id, r.referred_id) for r in data.referrals}
    assert pairs == {
        ("n:charles babbage", "e:ada@example.com"),
        ("e:ada@example.com", "e:grace@example.com"),
        ("e:grace@example.com", "n:alan turing"),
        ("e:grace@example.com", "e:kj@example.org"),
    }


def test_a_conversation_with_someone_referred_later_in_the_sheet_loads(tmp_path: Path) -> None:
    """Row order does not matter: a person named only in a later row's referrals is known."""
    folder = sheet(
        tmp_path,
        contacts=CONTACTS,
        interactions=(
            "date,contact,kind,referrals\n"
            "2026-11-05,Alan Turing,call,\n"
            "2026-11-03,ada@example.com,coffee,Alan Turing\n"
        ),
    )
    data = run(folder)
    assert len(data.interactions) == 2
    assert data.rejects == []


def test_a_self_referral_records_no_referral(tmp_path: Path) -> None:
    """Someone who names themselves as referrer gets no trail step to themselves."""
    data = run(sheet(tmp_path, contacts="email,name,referred_by\nada@example.com,Ada,Ada\n"))
    assert data.referrals == []
    assert len(data.contacts) == 1


def test_the_same_conversation_entered_twice_is_one_conversation(tmp_path: Path) -> None:
    """Same contact, date and kind is one conversation, with both rows' referrals."""
    folder = sheet(
        tmp_path,
        contacts=CONTACTS,
        interactions=(
            "date,contact,kind,referrals\n"
            "2026-11-03,ada@example.com,Coffee,Alan Turing\n"
            "3 Nov 2026,Ada Lovelace,coffee,Grace Hopper\n"
        ),
    )
    data = run(folder)
    (conversation,) = data.interactions
    names = {c.contact_id: c.name for c in data.contacts}
    referred = [names[r.referred_id] for r in data.referrals]
    assert referred == ["Alan Turing", "Grace Hopper"]
    assert {r.interaction_id for r in data.referrals} == {conversation.interaction_id}
    assert data.merged == 1


def test_the_dates_fixture_reads_every_form_and_refuses_the_two_bad_ones(tmp_path: Path) -> None:
    """ISO, "3 Nov 2026", 11/03/2026, "Nov 3, 2026" and ISO with time are one day."""
    folder = sheet(
        tmp_path / "sheet",
        contacts=(
            "email,name\n"
            "alice.chen@example.com,Alice Chen\n"
            "dmitri.ivanov@example.com,Dmitri Ivanov\n"
            "grace.park@example.com,Grace Park\n"
            "bruno@example.com,Bruno Santos\n"
            "zoe.muller@example.org,Zoë Müller\n"
            "jobs@example.com,Jobs\n"
            "emeka@example.net,Emeka Obi\n"
        ),
    )
    shutil.copyfile(EXPORTS / "dates-interactions.csv", folder / "interactions.csv")
    data = run(folder)
    assert {i.date for i in data.interactions} == {date(2026, 11, 3)}
    assert len(data.interactions) == 5
    refused = sorted((r.row, r.column, r.value) for r in data.rejects if r.severity == "row")
    assert refused == [(7, "date", "31/31/2026"), (8, "date", "soon")]


def test_the_dates_fixture_reads_slash_dates_day_first_when_asked(tmp_path: Path) -> None:
    """With `slash_dates = "day-first"`, 11/03/2026 is 11 March."""
    folder = sheet(tmp_path, contacts="email,name\ngrace.park@example.com,Grace Park\n")
    shutil.copyfile(EXPORTS / "dates-interactions.csv", folder / "interactions.csv")
    data = run(folder, "day-first")
    grace = [i for i in data.interactions if i.contact_id == "e:grace.park@example.com"]
    assert [i.date for i in grace] == [date(2026, 3, 11)]


def test_the_hostile_fixture_loads_as_its_expected_handling_says() -> None:
    """hostile-contacts.csv: injections stay literal and unmailable, bad rows are refused."""
    data = validate(read_source(str(EXPORTS / "hostile-contacts.csv")))
    by_row: dict[int, Contact] = {}
    for contact in data.contacts:  # the sheet's own rows come first, then referred people
        by_row.setdefault(contact.source_row, contact)
    assert 12 not in by_row  # no email and no name
    assert [(r.row, r.severity) for r in data.rejects if r.severity == "row"] == [(12, "row")]
    never_mailed = {3, 7, 8, 9, 17, 23}
    assert {row for row, c in by_row.items() if not c.mailable} == never_mailed
    assert by_row[4].name == "=?utf-8?q?hi=0ABcc:=20x@evil.example?="  # never decoded
    assert by_row[5].name.startswith("=HYPERLINK(")  # stored literally, defused on export
    assert by_row[6].phone == "+44 20 7946 0000"
    assert (by_row[10].name, by_row[10].company) == ("Bob Smith", "Acme Widgets")
    assert 11 not in by_row  # merged into row 10
    assert "\x00" not in by_row[13].notes
    assert by_row[18].opt_out
    assert by_row[19].contact_id == "e:padded.user@example.net"
    assert by_row[19].name == "Padded User"
    assert not by_row[19].opt_out
    assert by_row[21].email == "extra@example.com"
    assert by_row[22].email == "carol@example.com"
    conflicts = {(r.row, r.column) for r in data.rejects if r.severity == "conflict"}
    assert conflicts == {(11, "name"), (11, "company")}


@pytest.mark.parametrize(
    "cell",
    ["Bob <bob@@example.com>", "Bob <bob@example..com>", '"Bob" <bob>', "<bob@@example.com>"],
)
def test_a_broken_address_in_a_referral_is_refused_and_the_person_kept_unmailable(
    tmp_path: Path, cell: str
) -> None:
    """As a contacts row with a bad address: the cell is a reject naming the column, and the
    person it names (if it names one) is kept as someone to call, never mailed."""
    folder = sheet(
        tmp_path,
        contacts="email,name\nada@example.com,Ada Lovelace\n",
        interactions=f"date,contact,kind,referrals\n2026-11-03,Ada Lovelace,coffee,{cell}\n",
    )
    data = run(folder)
    (reject,) = data.rejects
    assert (reject.file, reject.row, reject.column, reject.severity) == (
        "interactions.csv",
        2,
        "referrals",
        "cell",
    )
    assert reject.reason.startswith("invalid email in a referral")
    by_id = {c.contact_id: c for c in data.contacts}
    if cell.startswith("<"):
        assert set(by_id) == {"e:ada@example.com"}
        return
    bob = by_id["n:bob"]
    assert (bob.email, bob.mailable, bob.unmailable_reason) == (
        None,
        False,
        "no valid email address",
    )
    assert [(r.referrer_id, r.referred_id) for r in data.referrals] == [
        ("e:ada@example.com", "n:bob")
    ]
