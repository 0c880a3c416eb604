"""Faults the user's machine throws at a run: a full or unwritable outbox, a damaged or
locked database. Nothing recorded is lost, and each says what to do next."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from breadcrumbs.errors import WorkspaceError
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from tests.follow_up_support import ledger, outbox, play, write_profile, write_sheet

CONTACTS = """
    email,name
    ann@example.com,Ann Lee
    bo@example.com,Bo Chan
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-11-24,ann@example.com,call,your team,,
    2026-11-24,bo@example.com,coffee,,,
"""


def test_an_outbox_that_cannot_be_written_defers_the_emails_to_the_next_run(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file could land: the emails wait (deferred), then go once the outbox is writable."""
    write_profile(workspace)
    write_sheet(workspace, CONTACTS, TALKS)
    shutil.rmtree(workspace.outbox)
    workspace.outbox.write_text("a file where the outbox folder should be")
    report = play(workspace, monkeypatch, "2026-11-25")
    assert {o.state for o in report.outcomes} == {"deferred"}
    assert set(ledger(workspace).values()) == {"deferred"}

    workspace.outbox.unlink()
    report = play(workspace, monkeypatch, "2026-11-25")
    assert {o.state for o in report.outcomes} == {"written"}
    assert len(outbox(workspace)) == 2
    assert set(ledger(workspace).values()) == {"written"}


def test_a_damaged_database_file_is_named_and_never_overwritten(workspace: Workspace) -> None:
    """A file that is not a DuckDB database stops the run with advice, and stays as it was."""
    workspace.db_path.write_bytes(b"not a database at all")
    with pytest.raises(WorkspaceError, match="move it aside"), open_store(workspace):
        pass
    assert workspace.db_path.read_bytes() == b"not a database at all"


def test_a_database_another_program_holds_says_to_close_it(workspace: Workspace) -> None:
    """DuckDB lets one process write a file; another run is told who to close, not crashed.

    A second connection in this process stands in for another program: DuckDB refuses both
    the same way, at once.
    """
    with open_store(workspace):
        pass
    holder = duckdb.connect(str(workspace.db_path), read_only=True)
    try:
        with pytest.raises(WorkspaceError), open_store(workspace, lock=False):
            pass
    finally:
        holder.close()


def test_emails_deferred_by_an_earlier_run_leave_before_this_runs_new_ones(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's order (planned_at, then key): what waits from an earlier run first, then
    what this run planned (issue 11: this run's rows are no longer read back from the ledger,
    and must still take their place behind the older ones)."""
    people = [f"p{n}@example.com,Person {n}" for n in range(12)]
    talks = [f"2026-11-24,p{n}@example.com,call,,," for n in range(12)]
    write_profile(workspace)
    write_sheet(
        workspace,
        "\n".join(["email,name", *people]),
        "\n".join(["date,contact,kind,topic,notes,referrals", *talks[:6]]),
    )
    shutil.rmtree(workspace.outbox)
    workspace.outbox.write_text("a file where the outbox folder should be")
    first = play(workspace, monkeypatch, "2026-11-25")
    earlier = sorted(o.key for o in first.outcomes)
    assert len(earlier) == 6 and {o.state for o in first.outcomes} == {"deferred"}

    workspace.outbox.unlink()
    write_sheet(
        workspace,
        "\n".join(["email,name", *people]),
        "\n".join(["date,contact,kind,topic,notes,referrals", *talks]),
    )
    second = play(workspace, monkeypatch, "2026-11-25")
    assert {o.state for o in second.outcomes} == {"written"}
    keys = [o.key for o in second.outcomes]
    assert keys[:6] == earlier
    assert keys[6:] == sorted(set(keys) - set(earlier))
