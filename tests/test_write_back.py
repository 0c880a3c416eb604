"""The optional status column: each contact's latest email state, written back to the sheet."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.google.write_back import column_letters
from breadcrumbs.settings import Workspace
from breadcrumbs.sync import run_sync
from breadcrumbs.workspace import SAMPLE_DIR
from tests.fake_google import FakeGoogle, authorized_user_info

SHEET_ID = "1BreadcrumbsWriteBackSheet0000000000000000"
URL = f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=0"


def _workspace(tmp_path: Path, fake: FakeGoogle, write_back: bool) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    profile = (SAMPLE_DIR / "profile.toml").read_text(encoding="utf-8")
    profile = profile.replace("write_back = false", f"write_back = {str(write_back).lower()}")
    (ws.root / "profile.toml").write_text(profile, encoding="utf-8")
    (ws.root / "token.json").write_text(json.dumps(authorized_user_info(fake)))
    fake.add_spreadsheet(
        SHEET_ID,
        {
            "Contacts": [
                ["Email", "Name", "Company"],
                ["ann@example.org", "Ann Lee", "Acme"],
                ["", "Bob Phone", ""],
                ["cy@example.org", "Cy Out", "=SUM(1)"],
            ],
            "interactions": [
                ["date", "contact", "kind", "topic"],
                [date(2026, 11, 24), "ann@example.org", "coffee", "your team"],
                [date(2026, 11, 24), "cy@example.org", "call", ""],
            ],
        },
    )
    return ws


@pytest.mark.parametrize(
    ("index", "letters"),
    [(0, "A"), (2, "C"), (25, "Z"), (26, "AA"), (51, "AZ"), (52, "BA"), (701, "ZZ")],
)
def test_column_letters_count_like_a_spreadsheet(index: int, letters: str) -> None:
    """Column indexes become A..Z, AA.. as a spreadsheet names them."""
    assert column_letters(index) == letters


def test_write_back_adds_a_status_column_written_as_plain_text(
    tmp_path: Path, fake: FakeGoogle, today: str
) -> None:
    """After a follow-up each contact row says its latest email; nothing else changes."""
    ws = _workspace(tmp_path, fake, write_back=True)
    run_sync(ws, URL)
    from breadcrumbs.store.database import open_store
    from breadcrumbs.store.ledger import opt_out

    with open_store(ws) as con:
        opt_out(con, "cy@example.org")
    report = run_follow_up(ws)
    assert any("status written" in note for note in report.notes)
    tab = fake.state.sheets[SHEET_ID]["tabs"]["Contacts"]
    assert tab[0] == ["Email", "Name", "Company", "Breadcrumbs"]
    assert tab[1][3] == "thank-you written 2026-11-25"
    assert tab[2][3] == "no email: call"
    assert tab[3][3] == "opted out"
    assert tab[3][2] == "=SUM(1)"  # the user's own cells are left as they were


def test_without_write_back_the_sheet_is_never_written(
    tmp_path: Path, fake: FakeGoogle, today: str
) -> None:
    """Off by default: the sheet keeps exactly its own columns."""
    ws = _workspace(tmp_path, fake, write_back=False)
    run_sync(ws, URL)
    run_follow_up(ws)
    assert fake.state.sheets[SHEET_ID]["tabs"]["Contacts"][0] == ["Email", "Name", "Company"]
