"""A sync's DuckDB memory is bounded by the sheet's size, and a sheet that needs more is loaded
anyway, exactly as without the bound (issue 11: peak memory at 100k contacts / 1M conversations).

store.database.load runs under `memory_limit(memory_bound(rows))`; when DuckDB runs out under
it, the load's transaction is rolled back and sync.load_stage reads, validates and loads the
sheet again with DuckDB's own limit. These tests force that on a small sheet (a bound of a few
MiB, or DuckDB running out in the middle of the transaction) and compare every table and the
report with a workspace synced without running out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from breadcrumbs import sync, validate
from breadcrumbs.settings import Workspace
from breadcrumbs.store import database, derived
from breadcrumbs.store.database import duckdb, memory_limit, one_opening, open_store
from breadcrumbs.workspace import init_workspace
from tests.test_sync_staged import fingerprint, network, report_of

TINY = 4 * 2**20  # DuckDB runs out reading the sheet's 3,000 conversations in this


def _limit(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    amount = database._bytes_of(str(row[0]))
    assert amount is not None
    return amount


class _Loads:
    """sync's store.load, watched: the bound each call had and whether DuckDB ran out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[int | None, str]] = []
        self.left: list[tuple[int, ...] | None] = []  # _st_* left after each call
        real = database.load

        def load(
            con: duckdb.DuckDBPyConnection,
            data: validate.Validated,
            source: str,
            limit: int | None = None,
        ) -> database.SyncCounts:
            # The sheet's temporary tables and views are gone when the load returns or
            # runs out (not held through a second try, or after the sync, on a store
            # one_opening keeps open).
            left = (
                "SELECT count(*) FROM (SELECT table_name AS name FROM duckdb_tables() "
                "UNION ALL SELECT view_name FROM duckdb_views()) WHERE name LIKE '\\_st%' "
                "ESCAPE '\\'"
            )
            try:
                counts = real(con, data, source, limit)
            except duckdb.OutOfMemoryException:
                self.calls.append((limit, "out of memory"))
                self.left.append(con.execute(left).fetchone())
                raise
            self.calls.append((limit, "loaded"))
            self.left.append(con.execute(left).fetchone())
            return counts

        monkeypatch.setattr(sync, "load", load)


def _two_workspaces(tmp_path: Path) -> tuple[Workspace, Workspace]:
    plain, tight = Workspace(tmp_path / "plain"), Workspace(tmp_path / "tight")
    init_workspace(plain)
    init_workspace(tight)
    return plain, tight


def test_a_sheet_that_needs_more_than_its_bound_is_read_again_and_lands_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = [
        network(tmp_path / "base", seed=4),
        network(tmp_path / "edited", seed=4, edited=0.02, crlf=True),
    ]
    plain, tight = _two_workspaces(tmp_path)
    row_by_row: list[bool] = []
    real_per_row = validate._per_row_instead

    def per_row(*args: object) -> None:
        row_by_row.append(True)
        real_per_row(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(validate, "_per_row_instead", per_row)
    for folder in folders:
        said_plain: list[str] = []
        loads = _Loads(monkeypatch)
        expected = sync.run_sync(plain, str(folder), say=said_plain.append)
        assert loads.calls == [(database.MEMORY_FLOOR, "loaded")]  # a small sheet: the floor
        assert loads.left == [(0,)]  # its scratch dropped

        said_tight: list[str] = []
        loads = _Loads(monkeypatch)
        with monkeypatch.context() as m:
            m.setattr(database, "MEMORY_FLOOR", TINY)
            got = sync.run_sync(tight, str(folder), say=said_tight.append)
        assert loads.calls == [(TINY, "out of memory"), (None, "loaded")]
        assert loads.left == [(0,), (0,)]  # after running out, and after the load
        # The same tables (the syncs' numbers too: the first try left no trace) and report.
        assert fingerprint(tight) == fingerprint(plain)
        assert report_of(got) == report_of(expected)
        # Nothing alarming said: the stages as ever, and that it reads the sheet again.
        assert said_tight == [*said_plain, "reading it again, to load it with more memory"]
    # Running out was never taken for a sheet DuckDB cannot read set-wise.
    assert row_by_row == []


def test_running_out_in_the_middle_of_the_load_loses_nothing_the_store_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB runs out after the sheet's tables were emptied and filled again, in the same
    transaction: rolled back, the store keeps the earlier sync and what it owns (an opt-out
    given on the command line, a ledger row) and the sync read again lands as a plain one."""
    base = network(tmp_path / "base", seed=6)
    edited = network(tmp_path / "edited", seed=6, edited=0.03)
    plain, tight = _two_workspaces(tmp_path)
    for ws in (plain, tight):
        sync.run_sync(ws, str(base))
        with open_store(ws) as con:
            con.execute("INSERT INTO opt_outs VALUES ('gone@example.org', '2026-11-01', 'cli')")
            con.execute(
                "INSERT INTO messages (key, kind, state) VALUES ('intro:x', 'intro', 'sent')"
            )
    expected = sync.run_sync(plain, str(edited))

    seen: list[tuple[int, int]] = []

    def late(real: Callable[..., None]) -> Callable[..., None]:
        def refresh(con: duckdb.DuckDBPyConnection, *args: object) -> None:
            real(con, *args)
            row = con.execute("SELECT count(*) FROM interactions").fetchone()
            seen.append((_limit(con), int(row[0]) if row else 0))
            if len(seen) == 1:
                raise duckdb.OutOfMemoryException("could not allocate block of size 256.0 KiB")

        return refresh

    # The derived tables made again, or (a re-sync that reused its judgement, judged.py,
    # with only topics edited) their topics updated in place: either is late in the load.
    monkeypatch.setattr(derived, "refresh", late(derived.refresh))
    monkeypatch.setattr(derived, "refresh_topics", late(derived.refresh_topics))
    loads = _Loads(monkeypatch)
    got = sync.run_sync(tight, str(edited))
    assert loads.calls == [(database.MEMORY_FLOOR, "out of memory"), (None, "loaded")]
    assert loads.left == [(0,), (0,)]  # after running out, and after the load
    assert seen[0] == (database.MEMORY_FLOOR, expected.counts.interactions)  # it was all in
    assert _limit_now(tight) == seen[1][0]  # DuckDB's own limit again, then as before
    assert fingerprint(tight) == fingerprint(plain)
    assert report_of(got) == report_of(expected)
    with open_store(tight) as con:
        assert con.execute("SELECT state FROM messages WHERE key = 'intro:x'").fetchone() == (
            "sent",
        )
        assert con.execute(
            "SELECT via FROM opt_outs WHERE email = 'gone@example.org'"
        ).fetchone() == ("cli",)


def _limit_now(ws: Workspace) -> int:
    with open_store(ws) as con:
        return _limit(con)


def test_the_bound_holds_for_the_load_only_and_never_raises_duckdbs_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is the database's setting: a store held open for the stages after the sync
    (follow-up's one_opening) gets its own limit back; a machine whose DuckDB allows less
    than the bound keeps its own."""
    ws = Workspace(tmp_path / "ws")
    init_workspace(ws)
    folder = network(tmp_path / "base", seed=2)
    during: list[int] = []
    real_refresh = derived.refresh

    def refresh(con: duckdb.DuckDBPyConnection) -> None:
        during.append(_limit(con))
        real_refresh(con)

    monkeypatch.setattr(derived, "refresh", refresh)
    with one_opening(ws), open_store(ws) as con:
        before = _limit(con)
        sync.run_sync(ws, str(folder))
        after = _limit(con)
        assert during == [database.MEMORY_FLOOR]
        assert after == before > database.MEMORY_FLOOR

        con.execute("SET memory_limit = '100MiB'")
        with memory_limit(con, database.memory_bound(1_000_000)):
            assert _limit(con) == 100 * 2**20
        with memory_limit(con, 50 * 2**20):
            assert _limit(con) <= 50 * 2**20
        assert _limit(con) == 100 * 2**20


def test_the_bound_follows_the_sheet_above_its_floor() -> None:
    assert database.memory_bound(10_000) == database.MEMORY_FLOOR
    big = database.memory_bound(1_126_000)  # the bench's 100,000 contacts + 1M conversations
    assert 450 * 2**20 < big < 600 * 2**20  # with Python's share, the process under 1 GiB
    assert database.memory_bound(2_252_000) == 2 * big


def test_the_flows_load_stage_reads_the_source_again_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Prefect flow calls the stages one by one and passes no `again`: load_stage reads
    the source again as the read stage did (DuckDB running out late in the load, when the
    first reading's records have been given their people's ids already)."""
    folder = network(tmp_path / "base", seed=8)
    plain, tight = _two_workspaces(tmp_path)
    expected = sync.run_sync(plain, str(folder))
    profile = sync.load_profile(tight.profile_path)
    data = sync.validate_stage(sync.read_stage(str(folder)), profile)
    loads = _Loads(monkeypatch)
    real_refresh = derived.refresh
    refreshes: list[bool] = []

    def refresh(con: duckdb.DuckDBPyConnection) -> None:
        real_refresh(con)
        refreshes.append(True)
        if len(refreshes) == 1:
            raise duckdb.OutOfMemoryException("could not allocate block of size 256.0 KiB")

    monkeypatch.setattr(derived, "refresh", refresh)
    got = sync.load_stage(tight, data, str(folder))
    assert loads.calls == [(database.MEMORY_FLOOR, "out of memory"), (None, "loaded")]
    assert fingerprint(tight) == fingerprint(plain)
    assert report_of(got) == report_of(expected)
