"""follow-up's own sync skips a sheet that is exactly as the last sync read it (issue 11),
and reads it again the moment anything that shapes the result differs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.settings import Workspace
from breadcrumbs.sync import run_sync
from tests.follow_up_support import outbox, sql, sync, write_profile, write_sheet

PEOPLE = """
    email,name,company
    ann@example.com,Ann Lee,Acme
    bob@example.com,Bob Stone,Initech
    not-an-email,Cy Dee,Hooli
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-11-24,ann@example.com,coffee,dbt at Acme,,
"""


@pytest.fixture
def synced(workspace: Workspace, today: str, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    write_profile(workspace)
    write_sheet(workspace, PEOPLE, TALKS)
    sync(workspace)
    return workspace


def syncs(workspace: Workspace) -> int:
    return int(sql(workspace, "SELECT count(*) FROM syncs")[0][0])


def test_follow_up_does_not_load_a_sheet_unchanged_since_the_sync_before_it(
    synced: Workspace,
) -> None:
    """No second sync is logged; the thank-you still goes; the summary says why."""
    result = CliRunner().invoke(app, ["follow-up", "--workspace", str(synced.root)])
    assert result.exit_code == 0, result.output
    assert "is as the last sync read it: nothing new to load" in result.output
    assert syncs(synced) == 1
    assert len(outbox(synced)) == 1


def test_the_skipped_sync_reports_the_last_syncs_counts_and_rejects(synced: Workspace) -> None:
    """What follow-up shows of its sync is what the loaded tables hold, rejects included."""
    report = run_sync(synced, skip_unchanged=True)
    assert report.unchanged
    assert (report.counts.contacts, report.counts.interactions, report.counts.rejected) == (
        3,
        1,
        1,
    )
    assert [(r.file, r.row, r.column) for r in report.rejects] == [("contacts.csv", 4, "email")]


def test_an_edited_cell_is_loaded_by_the_next_follow_up(synced: Workspace) -> None:
    """Same size, same names, one letter changed: the content decides, not the file's size."""
    write_sheet(synced, PEOPLE.replace("Initech", "Initeck"), TALKS)
    report = run_sync(synced, skip_unchanged=True)
    assert not report.unchanged
    assert sql(synced, "SELECT company FROM contacts WHERE email = 'bob@example.com'") == [
        ("Initeck",)
    ]
    assert syncs(synced) == 2


def test_a_new_slash_dates_setting_reads_the_same_sheet_again(synced: Workspace) -> None:
    """The setting changes what the cells mean, so the same bytes are not the same sync."""
    with synced.profile_path.open("a", encoding="utf-8") as handle:
        handle.write('\n[source]\nslash_dates = "day-first"\n')
    assert not run_sync(synced, skip_unchanged=True).unchanged
    assert syncs(synced) == 2


def test_after_a_sync_of_another_source_the_first_one_is_read_again(
    synced: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The tables hold the other source now: going back must load, never skip."""
    other = tmp_path_factory.mktemp("other")
    (other / "contacts.csv").write_text("email,name\ndee@example.com,Dee Poe\n", "utf-8")
    run_sync(synced, str(other))
    report = run_sync(synced, str(synced.root / "sheet"), skip_unchanged=True)
    assert not report.unchanged
    assert sql(synced, "SELECT count(*) FROM contacts") == [(3,)]


def test_an_explicit_sync_always_loads(synced: Workspace) -> None:
    """`breadcrumbs sync` is the user asking for a fresh read: it loads and logs a sync."""
    assert not sync(synced).unchanged
    assert syncs(synced) == 2
