"""A Google Sheet as the source: `run_sync(ws, <sheet URL>)` and `breadcrumbs sync <URL>`
against the fake Google's Sheets API (google/sheets.py, sync.py), compared with
the same network read from CSV files."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.errors import SourceError
from breadcrumbs.google import api as google_api
from breadcrumbs.google.auth import load_credentials
from breadcrumbs.settings import Workspace
from breadcrumbs.sync import SyncReport, run_sync
from breadcrumbs.workspace import init_workspace
from tests.fake_google import FakeGoogle
from tests.follow_up_support import sql
from tests.google_support import serving
from tests.test_store import dump, write_network

SHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
URL = f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=0"
# Shown day first in the sheet: a reader that asked for the displayed text would have to
# guess, and the profile's default (month first) would read 03/11/2026 as March 11.
DAY_FIRST = "%d/%m/%Y"


@pytest.fixture
def fake(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    with serving(monkeypatch, workspace) as server:
        yield server


def tabs_like(folder: Path) -> dict[str, list[list[Any]]]:
    """The CSV files of `folder` as sheet tabs, with real dates (and one date-time) in the
    interactions' date column, as a person typing them into Google Sheets would have."""
    tabs: dict[str, list[list[Any]]] = {}
    for name in ("contacts", "interactions", "prospects"):
        with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            tabs[name] = [list(r) for r in csv.reader(fh)]
    for row in tabs["interactions"][1:]:
        with contextlib.suppress(ValueError):  # "someday" stays text, refused as in the CSV
            row[0] = date.fromisoformat(row[0])
    when = tabs["interactions"][2][0]
    tabs["interactions"][2][0] = datetime(when.year, when.month, when.day, 14, 30)
    return tabs


def rejects(report: SyncReport) -> list[tuple[str, int, str, str]]:
    return sorted((r.file, r.row, r.column, r.reason) for r in report.rejects)


def loaded(workspace: Workspace) -> dict[str, list[Any]]:
    """What a sync put in the store, without the columns that name the source file."""
    return {
        "contacts": sql(
            workspace,
            "SELECT contact_id, email, name, company, relationship, opt_out FROM contacts "
            "ORDER BY contact_id",
        ),
        "interactions": sql(
            workspace,
            "SELECT contact_id, date, kind, topic FROM interactions ORDER BY contact_id, date",
        ),
        "referrals": sql(workspace, "SELECT referrer_id, referred_id FROM referrals ORDER BY ALL"),
        "prospects": sql(workspace, "SELECT company, role, stage FROM prospects ORDER BY ALL"),
    }


def test_a_sheet_loads_like_the_same_network_in_csv_files(
    workspace: Workspace, fake: FakeGoogle, tmp_path: Path
) -> None:
    """Same counts, same rows and dates, same rejects: named sheet[tab] with the row
    numbers the sheet shows."""
    folder = write_network(tmp_path / "csv")
    from_csv = Workspace(tmp_path / "csv-ws")
    init_workspace(from_csv)
    expected = run_sync(from_csv, str(folder))
    fake.add_spreadsheet(SHEET_ID, tabs_like(folder), date_format=DAY_FIRST)

    report = run_sync(workspace, URL)
    assert report.counts == expected.counts
    assert report.counts.contacts > 0 and report.counts.interactions == 2
    assert rejects(report) == [
        (f"sheet[{file.removesuffix('.csv')}]", row, column, reason)
        for file, row, column, reason in rejects(expected)
    ]
    assert ("sheet[contacts]", 4, "email", "invalid email") in {
        (f, r, c, reason.split(":")[0]) for f, r, c, reason in rejects(report)
    }
    assert loaded(workspace) == loaded(from_csv)
    assert sql(workspace, "SELECT DISTINCT file FROM rejects ORDER BY 1") == [
        ("sheet[contacts]",),
        ("sheet[interactions]",),
    ]


def test_dates_arrive_as_serial_numbers_and_parse_to_the_day(
    workspace: Workspace, fake: FakeGoogle
) -> None:
    """read_sheet asks for UNFORMATTED_VALUE with SERIAL_NUMBER dates, which the fake
    honours (a day count, not the day-first text the sheet shows), so 3 November stays
    3 November whatever the sheet's display format, and a date-time keeps its day."""
    fake.add_spreadsheet(
        SHEET_ID,
        {
            "contacts": [["email", "name"], ["ann@example.com", "Ann Lee"]],
            "interactions": [
                ["date", "contact", "kind"],
                [date(2026, 11, 3), "ann@example.com", "call"],
                [datetime(2026, 11, 5, 23, 59), "ann@example.com", "coffee"],
            ],
        },
        date_format=DAY_FIRST,
    )
    sheets = google_api.build_sheets(load_credentials(workspace.root), timeout=5)
    as_read = google_api.read_tabs(
        sheets,
        SHEET_ID,
        ["interactions"],
        value_render="UNFORMATTED_VALUE",
        datetime_render="SERIAL_NUMBER",
    )
    serials = [row[0] for row in as_read["interactions"][1:]]
    assert serials[0] == 46329.0 and 46331 < serials[1] < 46332
    shown = google_api.read_tabs(sheets, SHEET_ID, ["interactions"])  # the display text
    assert shown["interactions"][1][0] == "03/11/2026"

    report = run_sync(workspace, URL)
    assert report.rejects == []
    assert sql(workspace, "SELECT date, kind FROM interactions ORDER BY date") == [
        (date(2026, 11, 3), "call"),
        (date(2026, 11, 5), "coffee"),
    ]


def test_row_numbers_are_the_sheets_own_past_blank_rows(
    workspace: Workspace, fake: FakeGoogle
) -> None:
    """A blank row in the middle is skipped but still counted, as the sheet numbers it."""
    fake.add_spreadsheet(
        SHEET_ID,
        {
            "contacts": [
                ["email", "name"],
                ["ann@example.com", "Ann Lee"],
                [],
                ["", ""],
                ["not-an-email", "Nora Noemail"],
            ]
        },
    )
    report = run_sync(workspace, URL)
    assert [(r.file, r.row, r.column) for r in report.rejects] == [("sheet[contacts]", 5, "email")]


def test_a_sheet_without_the_optional_tabs_is_fine(workspace: Workspace, fake: FakeGoogle) -> None:
    """No prospects tab (nor interactions): the contacts load, nothing is refused."""
    fake.add_spreadsheet(
        SHEET_ID,
        {
            "contacts": [["email", "name"], ["ann@example.com", "Ann Lee"]],
            "interactions": [["date", "contact", "kind"], [date(2026, 11, 3), "Ann Lee", "call"]],
        },
    )
    report = run_sync(workspace, URL)
    assert (report.counts.contacts, report.counts.interactions, report.counts.prospects) == (
        1,
        1,
        0,
    )
    assert report.rejects == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda fake: fake.add_spreadsheet(
                SHEET_ID,
                {"People": [["email", "name"], ["x@example.com", "X"]], "interactions": [["d"]]},
            ),
            "no tab named contacts (tabs: People, interactions)",
        ),
        (lambda fake: None, f"Google Sheet {SHEET_ID}: not found; check the URL"),
        (
            lambda fake: (
                fake.add_spreadsheet(SHEET_ID, {"contacts": [["email"], ["x@example.com"]]}),
                fake.inject("spreadsheets.get", "403_forbidden"),
            ),
            "this Google account may not read it; share it with the account",
        ),
    ],
    ids=["no contacts tab", "404", "403"],
)
def test_a_sheet_that_cannot_be_read_is_a_source_error_and_the_store_is_untouched(
    workspace: Workspace, fake: FakeGoogle, tmp_path: Path, setup: Any, message: str
) -> None:
    """No contacts tab, an unknown id, a sheet not shared with the account: a SourceError
    saying so (no secret in it), and the network synced before is exactly as it was."""
    run_sync(workspace, str(write_network(tmp_path / "csv")))
    before = dump(workspace)
    setup(fake)
    with pytest.raises(SourceError) as info:
        run_sync(workspace, URL)
    assert message in str(info.value)
    assert "DO-NOT-LOG" not in str(info.value)
    assert dump(workspace) == before


def test_the_cli_syncs_a_sheet_url_and_remembers_it(
    workspace: Workspace, fake: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`breadcrumbs sync <URL>` prints the same summary as for files; `rejects` names the
    tab and row; a later `breadcrumbs sync` with no argument reads the sheet again."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    fake.add_spreadsheet(SHEET_ID, tabs_like(write_network(tmp_path / "csv")))
    runner = CliRunner()
    where = ["--workspace", str(workspace.root), "--no-prefect"]
    result = runner.invoke(app, ["sync", URL, *where])
    assert result.exit_code == 0, result.output
    assert f"synced {URL}" in result.output
    assert "loaded: 5 contacts (2 created from referrals), 2 conversations, 3 referrals" in (
        result.output
    )
    assert "refused: 2 rows" in result.output and "loaded with a warning: 3" in result.output
    listed = runner.invoke(app, ["rejects", "--workspace", str(workspace.root)])
    assert "sheet[contacts] row 4, column email: 'not-an-email'" in listed.output

    calls = fake.calls("values.batchGet")
    again = runner.invoke(app, ["sync", *where])
    assert again.exit_code == 0, again.output
    assert f"synced {URL}" in again.output
    assert fake.calls("values.batchGet") == calls + 1


def test_the_cli_says_why_a_sheet_could_not_be_read(
    workspace: Workspace, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown sheet: exit code 2 and the reason on stderr, no traceback."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["sync", URL, "--workspace", str(workspace.root)])
    assert result.exit_code == 2
    assert "not found; check the URL" in result.output
    assert "Traceback" not in result.output
