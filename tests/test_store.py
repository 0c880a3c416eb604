"""The DuckDB store on a real file: sync replaces, re-sync is a no-op, failures touch nothing,
opt-outs persist, and the referral trail walks back and stops (store/database.py,
sync.py).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from breadcrumbs.errors import SourceError
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import MIGRATIONS, find_contact, open_store, trail
from breadcrumbs.sync import run_sync
from tests.conftest import FIXTURES, write_csv

SHEET_OWNED = ("contacts", "interactions", "referrals", "prospects")


def write_network(folder: Path, contacts_extra: str = "") -> Path:
    """A small network with three levels of referrals, prospects and a few rejects."""
    write_csv(
        folder / "contacts.csv",
        """
        email,name,company,relationship,referred_by,opt_out
        ada@example.com,Ada Lovelace,Analytical Engines,former co-worker,,no
        grace@example.com,Grace Hopper,Navy,church,Ada Lovelace,
        not-an-email,Nora Noemail,Example Corp,neighbour,,
        Ada@Example.com,Ada L.,Babbage & Co,,,
        """
        + contacts_extra,
    )
    write_csv(
        folder / "interactions.csv",
        """
        date,contact,kind,topic,notes,referrals
        2026-11-03,grace@example.com,coffee,compilers,private,Alan Turing <alan@example.org>
        2026-11-05,Alan Turing,call,codebreaking,,Katherine Johnson
        2026-11-06,Nobody Known,call,,,
        someday,ada@example.com,call,,,
        """,
    )
    write_csv(
        folder / "prospects.csv",
        """
        company,role,stage,referral_wanted,share
        Navy,Programmer,applied,yes,
        Bletchley Park,Analyst,researching,no,no
        """,
    )
    return folder


def dump(workspace: Workspace, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the workspace's database, rows sorted, for before/after comparison."""
    with open_store(workspace) as con:
        names = [
            str(r[0])
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY table_name"
            ).fetchall()
        ]
        tables = {}
        for name in names:
            if name in skip:
                continue
            rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
            tables[name] = sorted(rows, key=repr)
        return tables


def rows(workspace: Workspace, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with open_store(workspace) as con:
        return con.execute(sql, params or []).fetchall()


def test_a_sync_loads_every_sheet_owned_table(workspace: Workspace, tmp_path: Path) -> None:
    """Contacts, conversations, referrals, prospects and rejects all land in DuckDB."""
    report = run_sync(workspace, str(write_network(tmp_path / "sheet")))
    c = report.counts
    # Ada (merged twice), Grace, Nora, plus Alan and Katherine created by referrals.
    assert (c.contacts, c.interactions, c.prospects, c.merged, c.created) == (5, 2, 2, 1, 2)
    assert c.referrals == 3
    assert c.rejected == 3  # Nora's email, the unknown contact, the unreadable date
    counts = {t: rows(workspace, f"SELECT count(*) FROM {t}")[0][0] for t in SHEET_OWNED}
    assert counts == {"contacts": 5, "interactions": 2, "referrals": 3, "prospects": 2}
    assert rows(workspace, "SELECT share FROM prospects WHERE company = 'Navy'") == [(True,)]


PROGRESS_PROBE = """
import sys
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
with open_store(Workspace(__import__("pathlib").Path(sys.argv[1]))) as con:
    print(con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0])
"""


def test_the_store_never_draws_a_progress_bar_on_stdout(workspace: Workspace) -> None:
    """DuckDB draws a bar on stdout for any statement over 2 s, terminal or not (seen in a
    100k-contact sync); it would land in the sync's report. Every store connection has it
    off. Asked in a process of its own: under pytest's capture DuckDB leaves the bar off by
    itself, and lowering `progress_bar_time` to show one quickly turns it back on."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRESS_PROBE, str(workspace.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_resyncing_the_same_input_changes_nothing(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every table is identical after a second sync of the same sheet, even a day later."""
    source = str(write_network(tmp_path / "sheet"))
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    run_sync(workspace, source)
    # The syncs log grows by one row, and each reject carries the id of its sync.
    before = dump(workspace, skip=("syncs",))
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-26")
    run_sync(workspace, source)
    after = dump(workspace, skip=("syncs",))
    strip_sync_id = {k: [r[1:] for r in v] if k == "rejects" else v for k, v in after.items()}
    assert strip_sync_id == {
        k: [r[1:] for r in v] if k == "rejects" else v for k, v in before.items()
    }
    assert rows(workspace, "SELECT count(*) FROM syncs") == [(2,)]


def test_resyncing_a_workbook_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    """An .xlsx source re-synced gives the same contacts, conversations and prospects."""
    from tests.test_read_sources import write_workbook

    source = str(write_workbook(tmp_path / "network.xlsx"))
    run_sync(workspace, source)
    before = dump(workspace, skip=("syncs", "rejects"))
    run_sync(workspace, source)
    assert dump(workspace, skip=("syncs", "rejects")) == before


def test_identifiers_survive_reordering_and_editing_the_sheet(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Contacts keep their id by email or name, conversations by contact, date and kind."""
    folder = tmp_path / "sheet"
    write_csv(folder / "contacts.csv", "email,name\nada@example.com,Ada\n,Grace Hopper")
    write_csv(
        folder / "interactions.csv",
        "date,contact,kind,topic\n2026-11-03,Ada,coffee,engines\n2026-11-04,Grace Hopper,call,",
    )
    run_sync(workspace, str(folder))
    ids = rows(
        workspace,
        "SELECT contact_id FROM contacts UNION ALL SELECT interaction_id FROM interactions",
    )
    write_csv(
        folder / "contacts.csv", "name,email,notes\nGRACE  hopper,,new note\nAda,ADA@example.com,"
    )
    write_csv(
        folder / "interactions.csv",
        """
        kind,date,contact,topic
        call,11/04/2026,grace hopper,x
        Coffee,3 Nov 2026,ada@example.com,y
        """,
    )
    run_sync(workspace, str(folder))
    again = rows(
        workspace,
        "SELECT contact_id FROM contacts UNION ALL SELECT interaction_id FROM interactions",
    )
    assert sorted(again) == sorted(ids)
    assert len(ids) == 4


def test_a_sync_replaces_what_the_sheet_no_longer_has(workspace: Workspace, tmp_path: Path) -> None:
    """A person removed from the sheet leaves contacts; the rejects are the last sync's."""
    folder = write_network(tmp_path / "sheet")
    run_sync(workspace, str(folder))
    write_csv(folder / "contacts.csv", "email,name\nada@example.com,Ada Lovelace")
    write_csv(folder / "interactions.csv", "date,contact,kind\n2026-11-03,ada@example.com,call")
    run_sync(workspace, str(folder))
    assert rows(workspace, "SELECT contact_id FROM contacts") == [("e:ada@example.com",)]
    assert rows(workspace, "SELECT count(*) FROM rejects") == [(0,)]
    assert rows(workspace, "SELECT count(*) FROM referrals") == [(0,)]


def test_a_sync_never_touches_the_ledger(workspace: Workspace, tmp_path: Path) -> None:
    """Rows the database owns (the messages ledger) survive any number of syncs."""
    source = str(write_network(tmp_path / "sheet"))
    run_sync(workspace, source)
    with open_store(workspace) as con:
        con.execute(
            "INSERT INTO messages (key, kind, contact_id, state) "
            "VALUES ('thank-you:i:1', 'thank-you', 'e:ada@example.com', 'sent')"
        )
    run_sync(workspace, source)
    assert rows(workspace, "SELECT key, state FROM messages") == [("thank-you:i:1", "sent")]


def _missing(folder: Path) -> Path:
    return folder / "gone.csv"


def _file(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name

    return make


FAILED_SOURCES = {
    "missing file": _missing,
    "empty file": _file("contacts.csv", b""),
    "header and no people": _file("contacts.csv", b"email,name\n"),
    "not a spreadsheet": _file("contacts.docx", b"PK\x03\x04 word document"),
    "no email and no name column": _file("contacts.csv", b"company,title\nAcme,CEO\n"),
    "binary file": _file("contacts.csv", bytes(range(256)) * 64),
    "broken workbook": _file("network.xlsx", b"this is not a zip archive"),
}


@pytest.mark.parametrize("make", FAILED_SOURCES.values(), ids=FAILED_SOURCES.keys())
def test_a_failed_sync_leaves_the_database_exactly_as_it_was(
    workspace: Workspace, tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    """A source that cannot be read raises SourceError; no table and no byte changes."""
    run_sync(workspace, str(write_network(tmp_path / "sheet")))
    before = dump(workspace)
    file_before = workspace.db_path.read_bytes()
    with pytest.raises(SourceError):
        run_sync(workspace, str(make(tmp_path)))
    assert workspace.db_path.read_bytes() == file_before
    assert dump(workspace) == before


def test_a_failed_first_sync_creates_no_database(workspace: Workspace, tmp_path: Path) -> None:
    """When the very first source is unreadable, no database file is left behind."""
    with pytest.raises(SourceError):
        run_sync(workspace, str(tmp_path / "nothing-here.csv"))
    assert not workspace.db_path.exists()


def test_a_later_sync_rereads_the_remembered_source(workspace: Workspace, tmp_path: Path) -> None:
    """The first `sync SOURCE` is remembered; a sync with no argument reads it again."""
    source = write_network(tmp_path / "sheet")
    run_sync(workspace, str(source))
    report = run_sync(workspace)
    assert report.source == str(source.resolve())


@pytest.mark.parametrize(
    "second_sheet",
    [
        "email,name,opt_out\nada@example.com,Ada Lovelace,no\ngrace@example.com,Grace Hopper,",
        "email,name,opt_out\nada@example.com,Ada Lovelace,",
        "email,name\nada@example.com,Ada Lovelace",
    ],
    ids=["opt-out cleared", "row dropped", "column dropped"],
)
def test_an_opt_out_persists_when_the_sheet_later_drops_it(
    workspace: Workspace, tmp_path: Path, second_sheet: str
) -> None:
    """Once the sheet opts someone out, the store keeps it whatever later sheets say."""
    path = write_csv(
        tmp_path / "contacts.csv",
        "email,name,opt_out\nada@example.com,Ada Lovelace,no\nGrace@Example.com,Grace Hopper,yes",
    )
    run_sync(workspace, str(path))
    write_csv(path, second_sheet)
    run_sync(workspace, str(path))
    assert rows(workspace, "SELECT email, via FROM opt_outs") == [("grace@example.com", "sheet")]


def test_migrations_are_versioned_and_applied_once(workspace: Workspace) -> None:
    """Each migration runs once; reopening the file applies nothing twice."""
    for _ in range(2):
        with open_store(workspace) as con:
            versions = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [v for (v,) in versions] == list(range(1, len(MIGRATIONS) + 1))
    tables = {t for (t,) in rows(workspace, "SELECT table_name FROM information_schema.tables")}
    assert {"contacts", "interactions", "referrals", "prospects", "rejects", "messages"} <= tables


def _trail_names(workspace: Workspace, who: str) -> list[tuple[str, bool]]:
    with open_store(workspace) as con:
        found = find_contact(con, who)
        assert found is not None, who
        return [(name, loops) for _, name, loops in trail(con, found[0])]


def test_the_trail_walks_back_three_levels_to_the_first_warm_contact(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Katherine ← Alan ← Grace ← Ada: referred_by and referrals cells make one chain."""
    run_sync(workspace, str(write_network(tmp_path / "sheet")))
    assert _trail_names(workspace, "Katherine Johnson") == [
        ("Katherine Johnson", False),
        ("Alan Turing", False),
        ("Grace Hopper", False),
        ("Ada Lovelace", False),
    ]
    assert _trail_names(workspace, "ada@example.com") == [("Ada Lovelace", False)]


def test_the_trail_follows_the_earliest_referral_of_a_person(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Someone referred twice walks back through whoever referred them first."""
    folder = tmp_path / "sheet"
    write_csv(
        folder / "contacts.csv",
        "email,name,referred_by\na@example.com,Ann,\nb@example.com,Ben,\nc@example.com,Cy,Ann",
    )
    write_csv(folder / "interactions.csv", "date,contact,kind,referrals\n2026-11-03,Ben,call,Cy")
    run_sync(workspace, str(folder))
    assert _trail_names(workspace, "Cy") == [("Cy", False), ("Ann", False)]


@pytest.mark.parametrize(
    ("contacts", "start", "expected"),
    [
        (
            "email,name,referred_by\nx@example.com,Xavier,Yolanda\ny@example.com,Yolanda,Xavier",
            "Xavier",
            [("Xavier", False), ("Yolanda", False), ("Xavier", True)],
        ),
        (
            "email,name,referred_by\na@example.com,Ann,Cy\nb@example.com,Ben,Ann\n"
            "c@example.com,Cy,Ben\nd@example.com,Dee,Cy",
            "Dee",
            [("Dee", False), ("Cy", False), ("Ben", False), ("Ann", False), ("Cy", True)],
        ),
        (
            "email,name,referred_by\nself@example.com,Selma,self@example.com",
            "Selma",
            [("Selma", False)],
        ),
    ],
    ids=["two-person cycle", "three-person cycle", "self-referral"],
)
def test_the_trail_terminates_on_a_cycle_and_a_self_referral(
    workspace: Workspace,
    tmp_path: Path,
    contacts: str,
    start: str,
    expected: list[tuple[str, bool]],
) -> None:
    """A loop in the referrals ends the walk at the first repeated person, marked as a loop."""
    run_sync(workspace, str(write_csv(tmp_path / "contacts.csv", contacts)))
    assert _trail_names(workspace, start) == expected


def test_the_trail_query_terminates_on_a_self_referral_row(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Even a referrals row naming the same person twice (written by hand) cannot loop forever."""
    run_sync(workspace, str(write_csv(tmp_path / "contacts.csv", "email,name\na@example.com,Ann")))
    with open_store(workspace) as con:
        con.execute("INSERT INTO referrals VALUES ('e:a@example.com', 'e:a@example.com', NULL, 0)")
    assert _trail_names(workspace, "Ann") == [("Ann", False), ("Ann", True)]


def test_the_linkedin_reject_row_is_the_row_a_spreadsheet_shows(
    workspace: Workspace,
) -> None:
    """Rows below LinkedIn's preamble keep their real numbers in the rejects table."""
    run_sync(workspace, str(FIXTURES / "exports" / "linkedin-Connections.csv"))
    assert rows(workspace, 'SELECT file, "row", "column" FROM rejects') == [
        ("linkedin-Connections.csv", 12, "name")
    ]
