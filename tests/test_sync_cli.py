"""The `breadcrumbs` command: sync summary and exit codes, rejects export, trail, --help,
and the sample's dates (breadcrumbs/cli.py, breadcrumbs/workspace.py), through typer's CliRunner."""

from __future__ import annotations

import csv
import json
import os
import pty
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from breadcrumbs.cli import app
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.workspace import SAMPLE_DIR, install_sample
from tests.conftest import FIXTURES, write_csv
from tests.test_store import dump, rows, write_network

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_prefect_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests run the plain path; the Prefect flow has its own test."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)


def breadcrumbs(workspace: Workspace, *args: str) -> Result:
    return runner.invoke(app, [*args, "--workspace", str(workspace.root)])


def test_sync_prints_loaded_merged_and_rejected_with_reasons_and_exits_0(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A sync with rejects succeeds and says how many were refused and why."""
    result = breadcrumbs(workspace, "sync", str(write_network(tmp_path / "sheet")))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "loaded: 5 contacts (2 created from referrals), 2 conversations, 3 referrals, " in out
    assert "2 prospects" in out
    assert "merged: 1 duplicate row\n" in out
    assert "refused: 2 rows" in out  # Nora's invalid email keeps her: a warning, not a refusal
    assert "loaded with a warning: 3" in out
    for reason in ("invalid email", "unknown contact", "unparseable date"):
        assert f"1 × {reason}" in out
    assert "2 × conflict" in out  # Ada's second row disagrees on name and on company
    assert "breadcrumbs rejects" in out


def test_sync_of_a_clean_sheet_reports_no_rejects(workspace: Workspace, tmp_path: Path) -> None:
    """A sheet with nothing wrong reports zero rejects and no hint to look at them."""
    path = write_csv(tmp_path / "contacts.csv", "email,name\nada@example.com,Ada Lovelace")
    result = breadcrumbs(workspace, "sync", str(path))
    assert result.exit_code == 0, result.output
    assert "refused: 0 rows" in result.stdout
    assert "breadcrumbs rejects" not in result.stdout


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.csv", None),
        ("contacts.csv", b""),
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("contacts.csv", b"company,title\nAcme,CEO\n"),
        ("contacts.csv", b"\x00\xff" * 2000),
    ],
    ids=["missing", "empty", "not a spreadsheet", "no email and no name", "binary"],
)
def test_sync_of_an_unreadable_source_exits_2_and_changes_nothing(
    workspace: Workspace, tmp_path: Path, name: str, content: bytes | None
) -> None:
    """One clear error, exit code 2, and the database exactly as it was."""
    assert breadcrumbs(workspace, "sync", str(write_network(tmp_path / "sheet"))).exit_code == 0
    before = dump(workspace)
    bad = tmp_path / name
    if content is not None:
        bad.write_bytes(content)
    result = breadcrumbs(workspace, "sync", str(bad))
    assert result.exit_code == 2
    assert "\nerror: " in result.stderr  # after the line naming the workspace
    assert name in result.stderr
    assert "Traceback" not in result.output
    assert dump(workspace) == before


def test_sync_with_no_source_yet_says_how_to_give_one(workspace: Workspace) -> None:
    """A first sync with no argument fails with a hint, not a traceback."""
    result = breadcrumbs(workspace, "sync")
    assert result.exit_code == 2
    assert "breadcrumbs sync SOURCE" in result.stderr


def test_rejects_lists_file_row_column_value_and_reason(
    workspace: Workspace, tmp_path: Path
) -> None:
    """`breadcrumbs rejects` shows each refusal where a spreadsheet user can find it."""
    breadcrumbs(workspace, "sync", str(write_network(tmp_path / "sheet")))
    result = breadcrumbs(workspace, "rejects")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("contacts.csv row 4, column email: 'not-an-email': invalid email")
        for line in lines
    ), lines
    assert any(
        line.startswith("interactions.csv row 4, column contact: 'Nobody Known': unknown contact")
        for line in lines
    ), lines
    assert any(
        line.startswith("interactions.csv row 5, column date: 'someday': unparseable date")
        for line in lines
    ), lines


def _read_export(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("https://evil.example.com")', "+1+cmd", "-2+3", "@SUM(1+1)", "\tcmd", "\rcmd"],
    ids=["equals", "plus", "minus", "at", "tab", "carriage return"],
)
def test_rejects_csv_neutralises_cells_a_spreadsheet_would_run(
    workspace: Workspace, tmp_path: Path, value: str
) -> None:
    """Cells starting with = + - @ tab or CR get a leading ' in the exported CSV (CWE-1236)."""
    breadcrumbs(
        workspace, "sync", str(write_csv(tmp_path / "c.csv", "email,name\na@example.com,A"))
    )
    # The reader trims cells, so a leading tab or CR cannot come from a sheet today; the
    # export must defuse whatever the table holds, so the row is written straight into it.
    with open_store(workspace) as con:
        con.execute(
            "INSERT INTO rejects VALUES (1, ?, 2, 'name', ?, 'reason', 'cell')",
            [value, value],
        )
    out = tmp_path / "rejects.csv"
    result = breadcrumbs(workspace, "rejects", "--csv", str(out))
    assert result.exit_code == 0, result.output
    (row,) = _read_export(out)
    assert row["value"] == "'" + value
    assert row["file"] == "'" + value
    assert row["row"] == "2"


def test_rejects_csv_from_a_hostile_sheet_is_safe_to_open(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Formula-looking values refused from a real sheet come out defused; others unchanged."""
    path = write_csv(
        tmp_path / "contacts.csv",
        """
        email,name
        =cmd|' /C calc'!A0,Formula Email
        +cmd,Plus Email
        -cmd,Minus Email
        @cmd,At Email
        plain-bad-address,Plain
        """,
    )
    breadcrumbs(workspace, "sync", str(path))
    out = tmp_path / "rejects.csv"
    assert breadcrumbs(workspace, "rejects", "--csv", str(out)).exit_code == 0
    values = sorted(r["value"] for r in _read_export(out))
    assert values == ["'+cmd", "'-cmd", "'=cmd|' /C calc'!A0", "'@cmd", "plain-bad-address"]


def test_the_hostile_fixtures_rejects_export_defuses_its_formula(
    workspace: Workspace,
) -> None:
    """hostile-contacts.csv's `@SUM(...)` referral is refused and exported defused."""
    result = breadcrumbs(workspace, "sync", str(FIXTURES / "exports" / "hostile-contacts.csv"))
    assert result.exit_code == 0, result.output
    out = workspace.root / "rejects.csv"
    breadcrumbs(workspace, "rejects", "--csv", str(out))
    exported = _read_export(out)
    assert {r["value"] for r in exported if r["column"] == "referred_by"} == {
        "'@SUM(1+1)*cmd|' /C calc'!A0"
    }
    assert not any(r["value"].startswith(("=", "+", "-", "@", "\t", "\r")) for r in exported)


def test_trail_prints_the_chain_back_to_the_first_warm_contact(
    workspace: Workspace, tmp_path: Path
) -> None:
    """`breadcrumbs trail NAME` prints each referrer, one level further in."""
    breadcrumbs(workspace, "sync", str(write_network(tmp_path / "sheet")))
    result = breadcrumbs(workspace, "trail", "Katherine")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Katherine Johnson",
        "  ↳ referred by Alan Turing",
        "    ↳ referred by Grace Hopper",
        "      ↳ referred by Ada Lovelace",
    ]


def test_trail_marks_a_cycle_and_stops(workspace: Workspace, tmp_path: Path) -> None:
    """A referral loop is printed once, marked as looping, and the command ends."""
    path = write_csv(
        tmp_path / "contacts.csv",
        "email,name,referred_by\nx@example.com,Xavier,Yolanda\ny@example.com,Yolanda,Xavier",
    )
    breadcrumbs(workspace, "sync", str(path))
    result = breadcrumbs(workspace, "trail", "x@example.com")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Xavier",
        "  ↳ referred by Yolanda",
        "    ↳ referred by Xavier (already on this trail: it loops)",
    ]


def test_trail_of_nobody_known_fails_cleanly(workspace: Workspace, tmp_path: Path) -> None:
    """An unknown name exits non-zero with a hint to use the email."""
    breadcrumbs(workspace, "sync", str(write_network(tmp_path / "sheet")))
    result = breadcrumbs(workspace, "trail", "Nobody At All")
    assert result.exit_code == 1
    assert "try their email" in result.stderr


HELP_PROBE = """
import json, sys
import breadcrumbs.cli
codes = []
for args in (["--help"], ["sync", "--help"], ["rejects", "--help"], ["trail", "--help"]):
    try:
        breadcrumbs.cli.app(args)
    except SystemExit as exc:
        codes.append(exc.code)
loaded = sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))
print(json.dumps({"codes": codes, "prefect": loaded}))
"""


def test_help_does_not_import_prefect() -> None:
    """`breadcrumbs --help` answers without importing Prefect (about 2 s to import)."""
    done = subprocess.run(
        [sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 0, 0, 0], "prefect": []}


def _interaction_dates(folder: Path) -> list[date]:
    with (folder / "interactions.csv").open(newline="", encoding="utf-8") as handle:
        return [date.fromisoformat(r["date"]) for r in csv.DictReader(handle)]


def test_the_sample_ends_yesterday_by_breadcrumbs_today(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BREADCRUMBS_TODAY moves the sample so its latest conversation was yesterday."""
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2027-03-01")
    demo = install_sample(workspace)
    shifted = _interaction_dates(demo)
    original = _interaction_dates(SAMPLE_DIR)
    assert max(shifted) == date(2027, 2, 28)
    gaps = {a - b for a, b in zip(shifted, original, strict=True)}
    assert len(gaps) == 1  # every date moved by the same number of days


def test_a_second_sample_install_on_a_later_day_keeps_the_dates(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dates are fixed on the first install, so a later demo never thanks anyone twice."""
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    first = _interaction_dates(install_sample(workspace))
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-09")
    assert _interaction_dates(install_sample(workspace)) == first
    assert max(first) == date(2026, 11, 24)


def test_sync_sample_loads_the_bundled_network_dated_to_today(
    workspace: Workspace, today: str
) -> None:
    """`breadcrumbs sync --sample` loads about 40 people and conversations up to yesterday."""
    result = breadcrumbs(workspace, "sync", "--sample")
    assert result.exit_code == 0, result.output
    assert "refused: 0 rows" in result.stdout
    ((latest, conversations),) = rows(workspace, "SELECT max(date), count(*) FROM interactions")
    assert latest == date.fromisoformat(today) - timedelta(days=1)
    assert conversations >= 15
    ((people,),) = rows(workspace, "SELECT count(*) FROM contacts")
    assert 35 <= people <= 50


def test_a_sync_on_a_terminal_says_each_stage_on_stderr_and_keeps_stdout_clean(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A sheet of a million rows takes a minute: on a terminal, `sync` says what it is doing
    (reading, checking N rows, loading) on stderr; its report on stdout is unchanged."""
    source = str(write_network(tmp_path / "sheet"))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    primary, secondary = pty.openpty()  # stderr a terminal, as in a shell
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from breadcrumbs.cli import main; main()",
                "sync",
                source,
                "--workspace",
                str(workspace.root),
            ],
            stdout=subprocess.PIPE,
            stderr=secondary,
            env=env,
            timeout=120,
        )
        os.close(secondary)
        said = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            said += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0
    stages = [line for line in said.decode().splitlines() if line.startswith("…")]
    assert stages == [
        f"… reading {source}",
        "… checking 10 rows of 3 sheets",
        "… loading them into the workspace",
    ]
    assert done.stdout.decode().startswith(f"synced {source}\n")
    assert "…" not in done.stdout.decode()
