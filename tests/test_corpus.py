"""The bad-input corpus (issue 8): every case in tests/corpus/cases.toml synced for real.

Each case runs through `run_sync` (or `breadcrumbs sync`) on a real DuckDB workspace that
already holds a good sheet (tests/corpus/_baseline), so a fatal error can be seen to leave
the database exactly as it was. Workbooks are written here with openpyxl and Google Sheets
are served by the fake Google, so the repository holds no binary fixtures.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.errors import SourceError
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from breadcrumbs.sync import SyncReport, run_sync
from breadcrumbs.workspace import init_workspace
from tests.fake_google import FakeGoogle
from tests.follow_up_support import recipients, sql, write_profile
from tests.google_support import connect, point_at
from tests.test_store import dump

CORPUS = Path(__file__).parent / "corpus"
CASES: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "cases.toml").read_text("utf-8"))
TODAY = "2026-11-25"
SHEET_ID = "1CorpusCorpusCorpusCorpusCorpusCorpusCorpus0"
SHEET_URL = f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit"
KNOWN_KEYS = {
    "about",
    "source",
    "build",
    "slash_dates",
    "cli",
    "fatal",
    "contacts",
    "interactions",
    "referrals",
    "prospects",
    "merged",
    "created",
    "rejects",
    "emails",
    "names",
    "unmailable",
    "dates",
    "mailed",
    "xfail",
}

# ----- workbooks: written at test time ----------------------------------------------------

Rows = list[list[Any]]


def _book(path: Path, sheets: dict[str, Rows], hidden: tuple[str, ...] = ()) -> Workbook:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return book


def xlsx_merged_header_cells(path: Path) -> None:
    book = _book(
        path,
        {
            "Contacts": [
                ["My network", None, None],
                ["Email", "Name", "Company"],
                ["ann@example.com", "Ann Lee", "Acme"],
                ["not-an-email", "Bob Stone", "Initech"],
            ]
        },
    )
    book["Contacts"].merge_cells("A1:C1")
    book.save(path)


def xlsx_merged_name_header(path: Path) -> None:
    book = _book(
        path,
        {
            "Contacts": [
                ["Email", "Name", None],
                ["ann@example.com", "Ann", "Lee"],
                ["bob@example.com", "Bob", "Stone"],
            ]
        },
    )
    book["Contacts"].merge_cells("B1:C1")
    book.save(path)


def xlsx_excel_serials(path: Path) -> None:
    _book(
        path,
        {
            "Contacts": [["Email", "Name"], ["ann@example.com", "Ann Lee"]],
            "Interactions": [
                ["Date", "Contact", "Kind"],
                [46329, "ann@example.com", "a"],
                [46330.75, "ann@example.com", "b"],
                [datetime(2026, 11, 5, 14, 30), "ann@example.com", "c"],
                [date(2026, 11, 6), "ann@example.com", "d"],
                ["11/07/2026", "ann@example.com", "e"],
                ["someday", "ann@example.com", "f"],
            ],
        },
    )


def xlsx_extra_sheets(path: Path) -> None:
    _book(
        path,
        {
            "Read me": [["This workbook keeps my job search"]],
            "Contacts": [["Email", "Name"], ["ann@example.com", "Ann Lee"]],
            "Pivot": [["email", "name"], ["not-an-email", ""]],
            "Interactions": [["Date", "Contact", "Kind"], ["2026-11-24", "Ann Lee", "call"]],
            "Notes": [["notes"], ["nothing here is a prospect"]],
        },
    )


def xlsx_hidden_sheet(path: Path) -> None:
    _book(
        path,
        {
            "Contacts": [["Email", "Name"], ["ann@example.com", "Ann Lee"]],
            "Old contacts": [["Email", "Name"], ["old@example.com", "Old Friend"]],
        },
        hidden=("Old contacts",),
    )


def xlsx_one_sheet_any_name(path: Path) -> None:
    _book(path, {"Sheet1": [["Email", "Name"], ["ann@example.com", "Ann Lee"]]})


def xlsx_no_contacts_sheet(path: Path) -> None:
    _book(
        path,
        {
            "People": [["Email", "Name"], ["ann@example.com", "Ann Lee"]],
            "Log": [["Date", "Contact"], ["2026-11-24", "Ann Lee"]],
        },
    )


def xlsx_empty_contacts_sheet(path: Path) -> None:
    _book(path, {"contacts": [], "interactions": [["date", "contact"], ["2026-11-24", "Ann"]]})


XLSX: dict[str, Callable[[Path], None]] = {
    f.__name__: f
    for f in (
        xlsx_merged_header_cells,
        xlsx_merged_name_header,
        xlsx_excel_serials,
        xlsx_extra_sheets,
        xlsx_hidden_sheet,
        xlsx_one_sheet_any_name,
        xlsx_no_contacts_sheet,
        xlsx_empty_contacts_sheet,
    )
}

# ----- Google Sheets: the tabs the fake serves ----------------------------------------------

SHEETS: dict[str, dict[str, Rows]] = {
    "sheet_missing_contacts_tab": {
        "People": [["email", "name"], ["ann@example.com", "Ann Lee"]],
        "Log": [["date", "contact"], ["2026-11-24", "Ann Lee"]],
    },
    "sheet_missing_interactions_tab": {
        "contacts": [["email", "name"], ["ann@example.com", "Ann Lee"]],
        "prospects": [["company", "role"], ["Acme", "Engineer"]],
    },
    "sheet_empty_contacts_tab": {
        "contacts": [],
        "interactions": [["date", "contact"], ["2026-11-24", "Ann Lee"]],
    },
    "sheet_one_tab_any_name": {
        "Sheet1": [["email", "name"], ["ann@example.com", "Ann Lee"], ["nope", "Bob Stone"]],
    },
}

# ----- running a case -----------------------------------------------------------------------


def _params() -> Iterator[Any]:
    for name, case in CASES.items():
        marks = []
        if "xfail" in case:
            marks.append(pytest.mark.xfail(strict=True, reason=case["xfail"]))
        yield pytest.param(name, case, id=name, marks=marks)


@pytest.fixture
def baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace with a sender profile and the baseline sheet already loaded."""
    monkeypatch.setenv("BREADCRUMBS_TODAY", TODAY)
    ws = Workspace(tmp_path / "ws")
    init_workspace(ws)
    write_profile(ws, vcard=False)
    run_sync(ws, str(CORPUS / "_baseline"))
    return ws


def _source(name: str, case: dict[str, Any], tmp_path: Path, stack: list[FakeGoogle]) -> str:
    build = case.get("build")
    if build in XLSX:
        path = tmp_path / "network.xlsx"
        XLSX[build](path)
        return str(path)
    if build in SHEETS:
        fake = FakeGoogle().start()
        stack.append(fake)
        fake.add_spreadsheet(SHEET_ID, SHEETS[build])
        return SHEET_URL
    assert build is None, f"{name}: no builder named {build!r}"
    return str(CORPUS / name / case.get("source", ""))


def _sync(ws: Workspace, source: str, cli: bool) -> SyncReport | str:
    """The report, or the message of a refused sync."""
    if not cli:
        try:
            return run_sync(ws, source)
        except SourceError as exc:
            return str(exc)
    result = CliRunner().invoke(app, ["sync", source, "--workspace", str(ws.root), "--no-prefect"])
    if result.exit_code == 0:
        return run_sync(ws)  # the same source again, for the report the checks read
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output


def _reject_matches(expected: str, actual: tuple[str, int, str, str]) -> bool:
    where, _, reason = expected.partition(": ")
    file, row, column = where.rsplit(":", 2)
    a_file, a_row, a_column, a_reason = actual
    if (file, int(row), column) != (a_file, a_row, a_column):
        return False
    # A reason is a prefix; a reason of addresses says each must be named.
    if "@" in reason and not reason.startswith("invalid"):
        return all(part in a_reason for part in reason.split())
    return a_reason.startswith(reason)


def _check_rejects(expected: list[str], report: SyncReport) -> None:
    actual = sorted((r.file, r.row, r.column, r.reason) for r in report.rejects)
    unmatched = list(actual)
    for spec in expected:
        found = [a for a in unmatched if _reject_matches(spec, a)]
        assert found, f"no reject {spec!r} among {actual}"
        unmatched.remove(found[0])
    assert not unmatched, f"unexpected rejects: {unmatched}"


@pytest.mark.parametrize(("name", "case"), list(_params()))
def test_every_corpus_case_has_its_expected_outcome(
    name: str,
    case: dict[str, Any],
    baseline: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fatal case leaves the database as it was, with a message saying why; any other
    case loads its good rows and refuses each bad one with file, row, column and reason."""
    assert set(case) <= KNOWN_KEYS, f"{name}: unknown keys {set(case) - KNOWN_KEYS}"
    ws = baseline
    if "slash_dates" in case:
        with ws.profile_path.open("a", encoding="utf-8") as fh:
            fh.write(f'\n[source]\nslash_dates = "{case["slash_dates"]}"\n')
    fakes: list[FakeGoogle] = []
    try:
        source = _source(name, case, tmp_path, fakes)
        if fakes:
            point_at(monkeypatch, fakes[0])
            connect(ws.root, fakes[0])
        before = dump(ws)
        outcome = _sync(ws, source, bool(case.get("cli")))
        if "fatal" in case:
            assert isinstance(outcome, str), f"{name}: loaded, but should be refused"
            assert case["fatal"] in " ".join(outcome.split()), outcome
            assert dump(ws) == before, "a refused sync changed the database"
            return
        assert not isinstance(outcome, str), f"{name}: refused: {outcome}"
        _check_loaded(ws, case, outcome)
    finally:
        for fake in fakes:
            fake.stop()


def _check_loaded(ws: Workspace, case: dict[str, Any], report: SyncReport) -> None:
    counts = report.counts
    for key in ("contacts", "interactions", "referrals", "prospects", "merged", "created"):
        if key in case:
            assert getattr(counts, key) == case[key], f"{key}: {counts}"
    if "rejects" in case:
        _check_rejects(case["rejects"], report)
        stored = sql(ws, "SELECT count(*) FROM rejects WHERE sync_id = ?", [counts.sync_id])
        assert stored[0][0] == len(report.rejects)
    people = sql(ws, "SELECT email, name, mailable FROM contacts ORDER BY source_row, contact_id")
    if "emails" in case:
        assert [e or "" for e, _, _ in people] == case["emails"]
    if "names" in case:
        assert [n for _, n, _ in people] == case["names"]
    if "unmailable" in case:
        assert [n for _, n, m in people if not m] == case["unmailable"]
    if "dates" in case:
        talks = sql(ws, "SELECT date, kind FROM interactions ORDER BY source_row")
        assert [f"{d.isoformat()} {k}" for d, k in talks] == case["dates"]
    if "mailed" in case:
        run_follow_up(ws)
        # The baseline's conversation is five days old: only the case's people are due.
        assert recipients(ws) == sorted(case["mailed"])


def test_the_corpus_covers_what_issue_8_lists() -> None:
    """At least sixty cases, each with an outcome, and no input folder without a case."""
    assert len(CASES) >= 60
    assert all("fatal" in c or "rejects" in c or "mailed" in c for c in CASES.values())
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    built = {n for n, c in CASES.items() if "build" in c}
    assert folders == set(CASES) - built
