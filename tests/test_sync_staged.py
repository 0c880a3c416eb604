"""The set-wise read of a conversations CSV loads exactly what the per-row read loads (issue 11).

A plain conversations sheet is read by DuckDB and judged a distinct cell at a time
(sources/staged.py, validate.validate_staged). Each test syncs the same folders into two
workspaces, one the per-row way, and compares every table a sync writes (the sheet's, the
rejects with file, row, column, value and reason, who is who, opt-outs, the derived tables,
the sync's counts) by a hash of its sorted rows, and the report's rejects in their order.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bench import generate
from breadcrumbs import validate
from breadcrumbs.settings import Workspace
from breadcrumbs.sources import read, staged
from breadcrumbs.sync import SyncReport, run_sync
from breadcrumbs.workspace import init_workspace

TABLES = {
    "contacts": "*",
    "interactions": "*",
    "referrals": "*",
    "prospects": "*",
    "rejects": 'file, "row", "column", value, reason, severity',
    "people": "*",
    "addresses": "*",
    "opt_outs": "*",
    "unmailable": "*",
    "contact_facts": "*",
    "recent_talks": "*",
    "referral_pairs": "*",
    "derived_state": "*",
    "syncs": "sync_id, source, contacts, interactions, referrals, prospects, merged, created, "
    "rejected",
}


def fingerprint(ws: Workspace) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(ws.db_path), read_only=True)
    try:
        out = {}
        for table, columns in TABLES.items():
            rows = sorted(repr(r) for r in con.execute(f"SELECT {columns} FROM {table}").fetchall())
            out[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16])
        return out
    finally:
        con.close()


def stored_order(ws: Workspace) -> list[tuple[object, ...]]:
    """The conversations as the table holds them: what a list's ties fall back to."""
    con = duckdb.connect(str(ws.db_path), read_only=True)
    try:
        return con.execute(
            "SELECT interaction_id, source_file, source_row FROM interactions ORDER BY rowid"
        ).fetchall()
    finally:
        con.close()


def report_of(r: SyncReport) -> tuple[object, ...]:
    counts = r.counts
    return (
        counts.contacts,
        counts.interactions,
        counts.referrals,
        counts.prospects,
        counts.merged,
        counts.created,
        counts.rejected,
        [(x.file, x.row, x.column, x.value, x.reason, x.severity) for x in r.rejects],
    )


def both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folders: list[Path], read_again: int = 0
) -> list[tuple[object, ...]]:
    """Sync each folder in turn into a per-row workspace and a set-wise one; after each,
    the two must hold the same. `read_again`: how many set-wise syncs found that the sheet's
    order mattered and read it row by row after all. Returns what they reported."""
    per_row, set_wise = Workspace(tmp_path / "per-row"), Workspace(tmp_path / "set-wise")
    init_workspace(per_row)
    init_workspace(set_wise)
    reports = []
    staged_runs = []
    real = staged.stage_csv

    def spy(path: Path, name: str, file: str) -> staged.StagedSheet | None:
        sheet = real(path, name, file)
        staged_runs.append(sheet is not None)
        return sheet

    again = []
    real_again = validate._per_row_instead

    def spy_again(*args: object) -> None:
        again.append(True)
        real_again(*args)  # type: ignore[arg-type]

    for folder in folders:
        with monkeypatch.context() as m:
            m.setattr(read, "stage_csv", lambda *_: None)
            expected = run_sync(per_row, str(folder))
        with monkeypatch.context() as m:
            m.setattr(read, "stage_csv", spy)
            m.setattr(validate, "_per_row_instead", spy_again)
            got = run_sync(set_wise, str(folder))
        # Source paths are the same folder: every table, the syncs' sources included.
        assert fingerprint(set_wise) == fingerprint(per_row)
        assert stored_order(set_wise) == stored_order(per_row)
        assert report_of(got) == report_of(expected)
        reports.append(report_of(got))
    assert staged_runs and all(staged_runs), "the set-wise read was not taken"
    assert read_again < 0 or len(again) == read_again  # -1: either
    return reports


HOSTILE_TALKS = [
    # date, contact, kind, topic, notes, referrals
    ["sometime in spring", "Ada Adams", "call", "bad date", "", ""],
    ["", "Ada Adams", "call", "no date", "", ""],
    ["2026-02-30", "Ada Adams", "call", "no such day", "", ""],
    ["2026-11-01", "", "call", "no contact", "", "Someone Else"],
    ["2026-11-01", "Nobody At All", "call", "unknown", "", ""],
    ["2026-11-02", "Later Person", "call", "before the referral that creates them", "", "Fifth"],
    ["2026-11-03", "ada.adams0@example.org", "coffee", "creates", "", "Later Person"],
    ["2026-11-04", "Later Person", "lunch", "after it", "", "Third Person"],
    ["2026-11-05", "Third Person", "call", "", "", "Fourth <fourth@example.net>"],
    ["2026-11-06", "Fourth", "call", "found by the name the referral gave", "", ""],
    ["2026-11-07", "ada.adams0@example.org", "coffee", "", "", "Bad <bob@@example.com>"],
    ["2026-11-07", "ada.adams0@example.org", "coffee", "a duplicate", "", "Bad <bob@@example.com>"],
    ["2026-11-08", "ada.adams0@example.org", "call", "", "", "not-an-address@"],
    ["2026-11-08", "ada.adams0@example.org", "call", "dup", "", "not-an-address@;;  ; x@"],
    ["2026-11-09", "ada.adams0@example.org", "call", "", "", "Evil\u202eName"],
    ["2026-11-10", "ada.adams0@example.org", "call", "self", "", "ada.adams0@example.org"],
    ["11/12/2026", "  ada.adams0@example.org  ", "  Video  Call ", "  spaced  ", "", ""],
    ["12 Nov 2026", "Ada Adams <ada.adams0@example.org>", "VIDEO CALL", "dup by name", "", ""],
    ["2026-11-13", "Waiting Person", "call", "waits, then unknown", "", ""],
    ["someday", "Later Person", "call", "waits, then a bad date", "", ""],
    ["2026-11-17", " Later Person", "  hike ", "  a hike  ", "  notes ", " Sixth "],
    ["2026-11-14", "ada.adams0@example.org", "", "no kind", "", ""],
    [" ", " ", " ", " ", " ", " "],  # a blank row: skipped, its number kept
    ["2026-11-15", "ada.adams0@example.org", "call"],  # fewer cells than the header
    ["2026-11-16", "ada.adams0@example.org", "call", "", "", "", "an extra cell"],
    # Values past the 500 characters the rejects table keeps (the report keeps them whole).
    ["not a date " * 60, "ada.adams0@example.org", "call", "a long bad date", "", ""],
    ["2026-11-18", "Nobody " * 90 + "é", "call", "a long unknown contact", "", ""],
    ["2026-11-19", "ada.adams0@example.org", "call", "a long referral", "", "x@@" + "é" * 600],
    ["2026-11-20", "ada.adams0@example.org", "call", "a long time", "", "", "9" * 700],
]


def network(
    folder: Path, seed: int, edited: float = 0.0, moved: str = "", crlf: bool = False
) -> Path:
    """A generated network with the rows above scattered through its conversations."""
    folder.mkdir(parents=True)
    people = generate.contact_rows(400, seed)
    people.append(["ada.adams0@example.org", "Ada", "Adams", "Acme", "", "", "", "", "", "", ""])
    talks = generate.interaction_rows(people, 3000, seed)
    rng = random.Random(seed)
    for talk in talks:  # when it started, if the sheet says: some unreadable
        talk.append(rng.choice(["", "", "", "09:30", "2pm", "14:05", "25:99", "soon"]))
    for row in HOSTILE_TALKS:
        talks.insert(rng.randrange(len(talks) + 1), list(row))
    # Conversations logged twice (the same person, day and kind): merged.
    for _ in range(40):
        talks.insert(rng.randrange(len(talks)), list(rng.choice(talks)))
    if edited:
        generate.edit(people, edited, (3, 4), seed)
        generate.edit(talks, edited, (3,), seed)
    if moved:  # people whose address changed: the store matches them by name
        new = {}
        for index in rng.sample(range(len(people)), 15):
            if "@" in people[index][0]:
                new[people[index][0]] = people[index][0].replace("@", ".new@")
                people[index][0] = new[people[index][0]]
        if moved == "everywhere":  # the conversations say the new address too
            for talk in talks:
                for old, now in new.items():
                    talk[1:] = [cell.replace(old, now) for cell in talk[1:]]
    generate.write_csv(folder / "contacts.csv", generate.CONTACT_HEADER, people)
    header = [*generate.INTERACTION_HEADER, "time"]
    end = "\r\n" if crlf else "\n"  # Excel's and the csv module's line end, or a plain one
    text = end.join(",".join(r) for r in [header, *talks]) + end
    (folder / "interactions.csv").write_bytes(text.encode())
    return folder


def test_a_generated_network_with_hostile_rows_loads_the_same_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = both_ways(tmp_path, monkeypatch, [network(tmp_path / "base", seed=3, crlf=True)])
    rejects: list[tuple[str, ...]] = reports[0][-1]  # type: ignore[assignment]
    reasons = {r[4].split(":")[0] for r in rejects}
    for reason in (
        "unparseable date",
        "no contact named",
        "unknown contact",
        "ambiguous name",
        "invalid email in a referral",
        "control characters in a referral",
        "unreadable time",
    ):
        assert any(r.startswith(reason) for r in reasons), reason


def test_a_resync_with_edited_rows_and_moved_addresses_loads_the_same_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = [
        network(tmp_path / "base", seed=5),
        network(tmp_path / "edited", seed=5, edited=0.02, crlf=True),
        network(tmp_path / "moved", seed=5, edited=0.02, moved="everywhere"),
    ]
    rewritten = []
    real = validate.materialize_staged

    def spy(*args: object) -> None:
        rewritten.append(True)
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(validate, "materialize_staged", spy)
    both_ways(tmp_path, monkeypatch, folders)
    assert rewritten == [True]  # the third sync gave people their earlier ids: records after all


def test_a_sheet_whose_order_matters_is_read_row_by_row_and_loads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conversations still naming people by the address their contacts row left: a referral
    by that address creates someone who shares their name, and a later row's contact cell
    becomes ambiguous; only the sheet's order says which rows see it so."""
    folders = [
        network(tmp_path / "base", seed=5),
        network(tmp_path / "moved", seed=5, edited=0.02, moved="contacts only"),
    ]
    both_ways(tmp_path, monkeypatch, folders, read_again=1)


def test_a_conversations_line_duckdb_splits_otherwise_is_read_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line with more cells than the header's and the room kept past it: DuckDB's count of
    cells disagrees with the csv module's, so the sheet is judged row by row after all."""
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "contacts.csv").write_text("name,email\nAnn Lee,ann@example.com\n")
    (folder / "interactions.csv").write_text(
        "date,contact,kind,topic\n2026-01-02,Ann Lee,call,roles\n"
        "2026-01-03,Ann Lee,coffee,teams" + ",x" * 12 + "\n"
    )
    both_ways(tmp_path, monkeypatch, [folder], read_again=1)


def test_a_conversations_csv_with_quotes_is_read_row_by_row(tmp_path: Path) -> None:
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "interactions.csv").write_text('date,contact\n2026-01-02,"Lee, Ann"\n')
    assert staged.stage_csv(folder / "interactions.csv", "interactions", "i.csv") is None
    (folder / "interactions.csv").write_text("date,contact\n2026-01-02,Ann\t\n")
    assert staged.stage_csv(folder / "interactions.csv", "interactions", "i.csv") is None
    (folder / "interactions.csv").write_text("date,contact\n2026-01-02,Ann\r\n")
    assert staged.stage_csv(folder / "interactions.csv", "interactions", "i.csv") is None
    (folder / "interactions.csv").write_text("date,contact\n2026-01-02,Ann\n")
    assert staged.stage_csv(folder / "interactions.csv", "interactions", "i.csv") is not None
    (folder / "interactions.csv").write_bytes(b"date,contact\r\n2026-01-02,Ann\r\n")
    assert staged.stage_csv(folder / "interactions.csv", "interactions", "i.csv") is not None


@pytest.mark.parametrize(
    "space",
    [
        *staged._OTHER_SPACE,
        *(b"\xe2\x80" + bytes([b]) for b in [*range(0x80, 0x8B), 0xA8, 0xA9, 0xAF]),
    ],
)
def test_a_conversations_csv_with_whitespace_duckdb_keeps_is_read_row_by_row(
    tmp_path: Path, space: bytes
) -> None:
    """DuckDB's trim() strips spaces only: any other whitespace str.strip() removes sends the
    sheet to the csv module, wherever it is and whatever else the file holds."""
    path = tmp_path / "interactions.csv"
    plain = "date,contact,topic\n2026-01-02,Ann Lée,‘a’ talk – ok\n".encode() * 50
    path.write_bytes(plain)
    assert staged.stage_csv(path, "interactions", "i.csv") is not None
    path.write_bytes(plain + b"2026-01-03,Bo," + space + b"x\n")
    assert staged.stage_csv(path, "interactions", "i.csv") is None


def test_a_referral_that_makes_a_later_mention_of_a_name_ambiguous_loads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A referral by an unknown bare address creates someone named by its local part: a name
    that an earlier cell found uniquely is ambiguous from then on, row by row."""
    folder = tmp_path / "zed"
    folder.mkdir()
    (folder / "contacts.csv").write_text(
        "email,name\nann@example.com,Ann Lee\n,Zed\nbo@example.com,Bo Sun\n"
    )
    (folder / "interactions.csv").write_text(
        "date,contact,kind,referrals\n"
        "2026-11-01,Ann Lee,call,Zed\n"
        "2026-11-02,Bo Sun,call,zed@new.example\n"
        "2026-11-03,Ann Lee,coffee,Zed\n"
    )
    both_ways(tmp_path, monkeypatch, [folder], read_again=1)


NAMED = st.text(alphabet=st.sampled_from(list("aZé1_ .'-<>@+,;\"()[]:\\\t\u00a0ß")), max_size=24)


WORD = st.text(alphabet=st.sampled_from(list("aZé1_.'-ß,\"(")), min_size=1, max_size=5)
SPACES = st.text(alphabet=" ", max_size=3)
PART = st.text(alphabet=st.sampled_from(list("aZ1_+-.é")), min_size=0, max_size=4)
# Cells shaped like `Name <address>`, near and on both sides of the plain form.
SHAPED = st.builds(
    lambda words, gaps, local, domain, ends: (
        ends[0]
        + "".join(w + g for w, g in zip(words, gaps, strict=False))
        + "<"
        + local
        + "@"
        + domain
        + ">"
        + ends[1]
    ),
    st.lists(WORD, min_size=1, max_size=3),
    st.lists(st.text(alphabet=" ", min_size=1, max_size=3), min_size=3, max_size=3),
    st.lists(PART, min_size=1, max_size=3).map(".".join),
    st.lists(PART, min_size=1, max_size=3).map(".".join),
    st.tuples(SPACES, SPACES),
)


@settings(max_examples=3000)
@given(st.one_of(NAMED, SHAPED))
@example("Ada Adams <ada@x.com>")
@example("  J.  Smith <a.b@c-d.e> ")
@example("Liam O'Brien <l@x>")
@example(". <a@b>")
def test_a_named_address_splits_as_parseaddr_splits_it(text: str) -> None:
    from email.utils import parseaddr

    validate._parseaddr.cache_clear()
    assert validate._parseaddr(text) == parseaddr(text)


# Cells made of what a contact or referral cell can hold in a plain CSV: names people share,
# addresses known and not, brackets, separators, spaces, dates written several ways.
WHO = st.sampled_from(
    [
        "Ann Lee",
        "ann@example.com",
        "Ann Lee <ann@example.com>",
        "Bo Sun",
        "bo",
        "Cy <cy@new.example>",
        "cy@new.example",
        "Cy",
        "Dee",
        "dee@example.com",
        "Eve <bad@@example.com>",
        "x@",
        "Ann  Lee",
        " ann lee ",
        "",
    ]
)
DAY = st.sampled_from(["2026-11-01", "11/02/2026", "3 Nov 2026", "2026-02-30", "", "soon"])
KIND = st.sampled_from(["call", "Call", "coffee", "", " video  call"])
TIME = st.sampled_from(["", "9:30", "25:00", "2pm"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(DAY, WHO, KIND, st.lists(WHO, max_size=3).map(";".join), TIME),
        min_size=1,
        max_size=12,
    )
)
def test_any_small_plain_sheet_loads_the_same_both_ways(rows: list[tuple[str, ...]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as m:
        folder = Path(scratch) / "net"
        folder.mkdir()
        (folder / "contacts.csv").write_text(
            "email,name,referred_by\nann@example.com,Ann Lee,\n,Bo Sun,Dee\n"
            "dee@example.com,Dee,cy@new.example\n,Ann Lee,\n"
        )
        lines = ["date,contact,kind,referrals,time", *(",".join(r) for r in rows)]
        (folder / "interactions.csv").write_text("\n".join(lines) + "\n")
        if staged.stage_csv(folder / "interactions.csv", "interactions", "x") is None:
            return  # a blank line: read row by row either way
        both_ways(Path(scratch), m, [folder], read_again=-1)
