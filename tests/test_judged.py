"""A re-sync that reuses the last judgement of its conversations sheet (breadcrumbs/judged.py)
leaves the workspace exactly as judging the sheet again does.

Weeks of a job search played sheet by sheet: each step edits the sheets the way people do
(topics and notes corrected, dates, contact cells, times and referrals changed, rows added,
deleted, blanked and swapped, contacts renamed, re-addressed, dropped, added, opted out, their
companies and `referred_by` cells changed, a file left as it was, a conversations file that
must be read row by row) and syncs the result into two workspaces, one that may reuse its
judgement and one that judges every time. After every sync the two hold the same rows in
every table (sorted, as tests/test_sync_staged.py compares them, derived tables included),
the sheet tables and the rejects (with the sync that wrote them) in the same physical order,
and the reports the same rejects in the same order.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from bench import generate
from breadcrumbs import judged
from breadcrumbs.settings import Workspace
from breadcrumbs.store import derived
from breadcrumbs.sync import run_sync
from breadcrumbs.workspace import init_workspace
from tests.test_sync_staged import HOSTILE_TALKS, fingerprint, report_of

# The sheet tables as a scan gives them (referrals by seq: the staged sheet's come in the
# order its joins give them, which judging again does not fix either).
IN_ORDER = {
    "contacts": "SELECT * FROM contacts ORDER BY rowid",
    "interactions": "SELECT * FROM interactions ORDER BY rowid",
    "referrals": "SELECT * FROM referrals ORDER BY seq, referrer_id, referred_id",
    "prospects": "SELECT * FROM prospects ORDER BY rowid",
    "rejects": "SELECT * FROM rejects ORDER BY rowid",
}


def in_order(ws: Workspace) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(ws.db_path), read_only=True)
    try:
        out = {}
        for table, query in IN_ORDER.items():
            rows = [repr(r) for r in con.execute(query).fetchall()]
            out[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16])
        return out
    finally:
        con.close()


def sheets(seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """A generated network's contacts and conversations, hostile rows scattered in."""
    people = generate.contact_rows(120, seed)
    people.append(["ada.adams0@example.org", "Ada", "Adams", "Acme", "", "", "", "", "", "", ""])
    talks = generate.interaction_rows(people, 700, seed)
    rng = random.Random(seed)
    for talk in talks:
        talk.append(rng.choice(["", "", "", "09:30", "2pm", "25:99"]))
    for row in HOSTILE_TALKS:
        talks.insert(rng.randrange(len(talks) + 1), list(row))
    for _ in range(15):
        talks.insert(rng.randrange(len(talks)), list(rng.choice(talks)))
    return people, talks


def write(folder: Path, people: list[list[str]], talks: list[list[str]], quoted: bool) -> Path:
    folder.mkdir(parents=True)
    generate.write_csv(folder / "contacts.csv", generate.CONTACT_HEADER, people)
    header = [*generate.INTERACTION_HEADER, "time"]
    if quoted:  # a cell with a comma: the csv module quotes it, so the sheet is read row by row
        with (folder / "interactions.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([header, *talks])
    else:
        text = "\n".join(",".join(r) for r in [header, *talks]) + "\n"
        (folder / "interactions.csv").write_bytes(text.encode())
    return folder


def _who(rng: random.Random, people: list[list[str]]) -> str:
    person = rng.choice(people)
    name = f"{person[1]} {person[2]}".strip()
    return rng.choice([person[0] or name, name or person[0], f"{name} <{person[0]}>"])


EDITS = [
    "nothing",
    "topics",
    "topics",
    "notes",
    "long topic",
    "dates",
    "times",
    "contact cells",
    "referrals",
    "known referrals",
    "insert",
    "delete",
    "blank",
    "swap",
    "rename",
    "add contact",
    "companies",
    "opt out",
    "referred by",
]
# Edits after which identity moves someone on every sync (an address that left the sheet
# and the person who had it): the judgement is never reused again, so they come late.
LATE = ["readdress", "drop contact", "move to a referral"]


def edit(rng: random.Random, people: list[list[str]], talks: list[list[str]], what: str) -> None:
    """One edit a person makes between two syncs."""
    n = rng.randint(1, 10)
    long = [t for t in talks if len(t) > 5]
    if what == "topics":
        for row in rng.sample(long, n):
            row[3] += " (edited)"
    elif what == "notes":
        for row in rng.sample(long, n):
            row[4] = rng.choice(["", "a note", row[4] + " more"])
    elif what == "long topic":
        rng.choice(long)[3] = "a long topic " * 50
    elif what == "dates":
        for row in rng.sample(talks, n):
            row[0] = rng.choice(["2026-10-01", "10/02/2026", "3 Oct 2026", "soon", ""])
    elif what == "times":
        for row in rng.sample([t for t in talks if len(t) > 6], n):
            row[6] = rng.choice(["", "10:15", "noon", "7pm"])
    elif what == "contact cells":
        for row in rng.sample(talks, n):
            if len(row) > 1:
                row[1] = _who(rng, people)
    elif what == "referrals":
        for row in rng.sample(long, n):
            row[5] = ";".join([row[5], _who(rng, people), "New Person"]).strip(";")
    elif what == "known referrals":  # only people already known: no contact is created
        for row in rng.sample(long, n):
            if "@" in row[1]:
                row[5] = ";".join([row[5], rng.choice(people)[0]]).strip(";")
    elif what == "insert":
        for _ in range(n):
            row = list(rng.choice(talks))
            if len(row) > 1 and rng.random() < 0.5:
                row[0], row[1] = "2026-09-09", _who(rng, people)
            talks.insert(rng.randrange(len(talks) + 1), row)
    elif what == "delete":
        for _ in range(n):
            del talks[rng.randrange(len(talks))]
    elif what == "blank":  # every judged cell emptied: a row with only a topic is refused
        row = rng.choice(long)
        row[0] = row[1] = row[2] = row[5] = ""
        if rng.random() < 0.5:
            row[3] = row[4] = ""  # a blank row: skipped
    elif what == "swap":
        i, j = rng.randrange(len(talks)), rng.randrange(len(talks))
        talks[i], talks[j] = talks[j], talks[i]
    elif what == "rename":
        for person in rng.sample(people, n):
            person[rng.choice((1, 2))] += "son"
    elif what == "readdress":
        for person in rng.sample(people, n):
            if "@" in person[0]:
                person[0] = person[0].replace("@", ".moved@")
    elif what == "drop contact":
        for _ in range(n):
            del people[rng.randrange(len(people))]
    elif what == "add contact":
        for k in range(n):
            at = rng.randrange(len(people) + 1)
            people.insert(at, [f"new{k}.{at}@example.com", "New", f"Person{k}", "Co"] + [""] * 7)
    elif what == "companies":
        for person in rng.sample(people, n):
            person[rng.choice((3, 4, 7, 10))] += " (edited)"
    elif what == "opt out":
        for person in rng.sample(people, n):
            person[8] = rng.choice(["yes", "", "maybe"])
    elif what == "referred by":  # now someone else known: no contact is created or dropped
        for person in rng.sample([p for p in people if p[6]], min(n, 3)):
            other = rng.choice([p for p in people if p[0] and p[0] != person[0]])
            person[6] = other[0]
    elif what == "move to a referral":  # their row leaves the contacts sheet; a talk names them
        person = people.pop(rng.randrange(len(people)))
        row = rng.choice(long)
        row[5] = ";".join([row[5], f"{person[1]} {person[2]} <{person[0]}>"]).strip(";")


class Spy:
    """What the reusing workspace's syncs did: judgements reused or not, conversations
    updated in place, referrals written again."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reused: list[bool] = []
        self.written: list[tuple[int, bool]] = []
        self.rejects: list[int | None] = []  # rows written over in place, or None: filled
        real_reuse, real_write = judged.reuse, judged.write_reused
        real_rejects, real_contacts = judged.write_rejects, judged.write_contacts
        self.contacts: list[bool] = []  # written in place, or filled again

        def reuse(*args: object) -> bool:
            done = real_reuse(*args)  # type: ignore[arg-type]
            if judged.ENABLED:  # the reusing workspace's
                self.reused.append(done)
            return done

        def write_reused(*args: object) -> tuple[list[str], bool]:
            changed = real_write(*args)  # type: ignore[arg-type]
            self.written.append((len(changed[0]), changed[1]))
            return changed

        def write_rejects(*args: object) -> int | None:
            self.rejects.append(real_rejects(*args))  # type: ignore[arg-type]
            return self.rejects[-1]

        monkeypatch.setattr(judged, "reuse", reuse)
        monkeypatch.setattr(judged, "write_reused", write_reused)

        def write_contacts(*args: object) -> bool:
            self.contacts.append(real_contacts(*args))  # type: ignore[arg-type]
            return self.contacts[-1]

        monkeypatch.setattr(judged, "write_rejects", write_rejects)
        monkeypatch.setattr(judged, "write_contacts", write_contacts)


def both_ways(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    folders: list[Path],
    between: Callable[[Path, Workspace], None] | None = None,
) -> None:
    reusing, judging = Workspace(tmp_path / "reusing"), Workspace(tmp_path / "judging")
    init_workspace(reusing)
    init_workspace(judging)
    for folder in folders:
        if between is not None:  # what the user does to both workspaces before this sync
            for ws in (reusing, judging):
                between(folder, ws)
        with monkeypatch.context() as m:
            m.setattr(judged, "ENABLED", False)
            expected = run_sync(judging, str(folder))
        got = run_sync(reusing, str(folder))
        assert fingerprint(reusing) == fingerprint(judging), folder.name
        assert in_order(reusing) == in_order(judging), folder.name
        assert report_of(got) == report_of(expected), folder.name


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weeks_of_edited_sheets_load_the_same_reused_as_judged_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    people, talks = sheets(seed)
    folders = [write(tmp_path / "00-base", people, talks, quoted=False)]
    # Every few steps one that keeps the judgement (so the next one starts from a reused
    # sync), the rest drawn at random.
    plan = ["topics", "referred by", "companies", "long topic", "notes", "nothing"]
    for step in range(1, 10):
        names = [plan[step - 1] if step <= len(plan) and rng.random() < 0.7 else ""]
        names = [name or rng.choice(EDITS) for name in names]
        if rng.random() < 0.4:
            names.append(rng.choice(EDITS))
        if step == 8:
            names.append(rng.choice(LATE))
        for name in names:
            edit(rng, people, talks, name)
        quoted = rng.random() < 0.1
        if quoted:
            talks[rng.randrange(len(talks))][3] = "lunch, then a walk"
        label = f"{step:02}-{'-'.join(names)}{'-quoted' if quoted else ''}".replace(" ", "_")
        folders.append(write(tmp_path / label, people, talks, quoted))
    spy = Spy(monkeypatch)
    both_ways(tmp_path, monkeypatch, folders)
    assert True in spy.reused and False in spy.reused  # both ways were taken
    assert spy.rejects and None not in spy.rejects  # in place whenever reused, here
    assert spy.contacts and all(spy.contacts)


def test_a_topic_corrected_in_a_big_sheet_is_the_one_row_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    people, talks = sheets(9)
    twice = [*people[40][:3], "Another Co", *people[40][4:]]
    people.insert(60, twice)  # the same person again: a conflict over the company
    # The latest conversation of all: its topic is what the derived tables show of Ada.
    row = ["2026-12-01", "ada.adams0@example.org", "call", "the latest talk", "", "", ""]
    talks.insert(300, row)
    base = write(tmp_path / "base", people, talks, quoted=False)
    row[3] = "a corrected topic"
    people[10][3] = "A Corrected Company"
    twice[3] = "Yet Another Co"  # the conflict's reject says so, in its place
    corrected = write(tmp_path / "corrected", people, talks, quoted=False)
    # Referred by someone else known: the sheet judges the same, the referrals change.
    person = next(p for p in people if p[6] and p[0])
    person[6] = next(p[0] for p in people if p[0] and p[0] not in (person[0], person[6]))
    referred = write(tmp_path / "referred", people, talks, quoted=False)
    people[5][8] = "maybe"  # a new warning among the contacts' rejects: those move along
    warned = write(tmp_path / "warned", people, talks, quoted=False)
    spy = Spy(monkeypatch)
    refreshed: list[str] = []
    real_topics, real_refresh = derived.refresh_topics, derived.refresh

    def topics(con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
        refreshed.append(f"{len(ids)} topics")
        real_topics(con, ids)

    def refresh(con: duckdb.DuckDBPyConnection) -> None:
        refreshed.append("all")
        real_refresh(con)

    monkeypatch.setattr(derived, "refresh_topics", topics)
    monkeypatch.setattr(derived, "refresh", refresh)
    both_ways(tmp_path, monkeypatch, [base, corrected, corrected, referred, warned])
    assert spy.reused == [False, True, True, True, True]
    # The conflict's reject written over in place; the rejects after a new one filled again.
    assert spy.rejects == [1, 0, 0, None]
    assert spy.contacts == [True, True, True, True]  # two companies, nothing, nothing, opt-out
    # The corrected conversation, nothing, the referrals again, nothing.
    assert spy.written == [(1, False), (0, False), (0, True), (0, False)]
    # Each sync of the judging workspace makes everything again; the reusing one only the
    # corrected topic's rows, nothing for the same sheet, all after the referrals changed.
    assert refreshed == [
        "all",
        "all",
        "all",
        "1 topics",
        "all",
        "0 topics",
        "all",
        "all",
        "all",
        "0 topics",
    ]


def test_someone_identity_moves_now_gets_the_reused_records_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same sheets, but between two syncs the store learns that Ada is someone it knew
    by another id: identity moves her and her conversations, from the reused records."""
    people, talks = sheets(4)
    base = write(tmp_path / "base", people, talks, quoted=False)
    talks[50][3] = "an edited topic"
    edited = write(tmp_path / "edited", people, talks, quoted=False)

    def ada_was_known(folder: Path, ws: Workspace) -> None:
        if folder.name == "edited":
            with duckdb.connect(str(ws.db_path)) as con:
                con.execute(
                    "UPDATE people SET person_id = 'e:ada.before@example.org' "
                    "WHERE person_id = 'e:ada.adams0@example.org'"
                )

    spy = Spy(monkeypatch)
    materialized: list[bool] = []
    real = judged.materialize

    def materialize(*args: object) -> None:
        materialized.append(True)
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(judged, "materialize", materialize)
    both_ways(tmp_path, monkeypatch, [base, edited], between=ada_was_known)
    assert spy.reused == [False, True] and materialized == [True]


def test_what_the_judgement_reads_beside_the_cells_is_judged_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two rows swapped (the same cells, other row numbers), a `referred_by` added and then
    removed (the sheet's referrals numbered after one more or one fewer), the slash-date
    setting changed (the same sheet again): each sync after a change of what the judgement
    reads is judged again; a topic alone is not."""
    people, talks = sheets(12)
    folders = [write(tmp_path / "0-base", people, talks, quoted=False)]
    i = next(k for k, t in enumerate(talks) if len(t) > 5 and t[1] and t[3])
    j = next(k for k, t in enumerate(talks) if k > i + 5 and len(t) > 5 and t[1] != talks[i][1])
    talks[i], talks[j] = talks[j], talks[i]
    folders.append(write(tmp_path / "1-swapped", people, talks, quoted=False))
    person = next(p for p in people if not p[6] and p[0])
    person[6] = next(p[0] for p in people if p[0] and p[0] != person[0])
    folders.append(write(tmp_path / "2-referred", people, talks, quoted=False))
    talks[i][3] += " (edited)"
    folders.append(write(tmp_path / "3-topic", people, talks, quoted=False))
    person[6] = ""
    folders.append(write(tmp_path / "4-not-referred", people, talks, quoted=False))
    folders += [folders[-1], folders[-1]]

    calls: list[Path] = []

    def day_first(folder: Path, ws: Workspace) -> None:
        calls.append(folder)
        if len(calls) > 2 * (len(folders) - 1):  # before the last sync, in both workspaces
            text = ws.profile_path.read_text(encoding="utf-8")
            day = text.replace('slash_dates = "month-first"', 'slash_dates = "day-first"')
            assert day != text
            ws.profile_path.write_text(day, encoding="utf-8")

    spy = Spy(monkeypatch)
    both_ways(tmp_path, monkeypatch, folders, between=day_first)
    assert spy.reused == [False, False, False, True, False, True, False]


def test_a_sync_that_kept_no_judgement_in_between_is_never_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync by a version of Breadcrumbs that keeps no judgement (one installed for a while,
    then upgraded again) leaves the state of the sync before it: the sheet that state was
    judged from, synced again, is judged again, since the tables hold the other sheet."""
    people, talks = sheets(5)
    first = write(tmp_path / "first", people, talks, quoted=False)
    row = next(t for t in talks if len(t) > 5 and t[0].startswith("2026-") and t[1])
    row[0] = "2026-12-02"  # another day: another conversation, as many as before
    other = write(tmp_path / "other", people, talks, quoted=False)
    real = judged.remember
    calls: list[Path] = []

    def remember(*args: object, **kwargs: object) -> None:
        calls.append(Path())
        if len(calls) not in (3, 4):  # the second sync, in both workspaces: an older version
            real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(judged, "remember", remember)
    spy = Spy(monkeypatch)
    both_ways(tmp_path, monkeypatch, [first, other, first])
    assert spy.reused == [False, False, False]
