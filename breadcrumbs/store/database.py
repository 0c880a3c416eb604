"""The store: one DuckDB file per workspace, its migrations, and the sheet-owned tables.

The spreadsheet owns people, conversations, referrals and prospects: each sync replaces
those tables in one transaction. The database owns what a sheet cannot know — the ledger of
emails, who is who (people and their addresses), opt-outs given on the command line, bounces
and mailbox touches — and a sync never wipes those. DuckDB lets one process open the file
for writing and a second one fails at once, so every run holds the workspace lock for as
long as it has the file open.
"""

from __future__ import annotations

import fcntl
import os
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from breadcrumbs import clock, judged
from breadcrumbs.errors import WorkspaceError
from breadcrumbs.settings import Workspace
from breadcrumbs.store import derived, identity

if TYPE_CHECKING:  # validate imports email-validator: only a sync needs it (issue 11)
    from breadcrumbs.validate import Validated

if TYPE_CHECKING:
    import duckdb
else:
    try:
        # The engine itself, which the duckdb package re-exports (the same connect, errors
        # and connection class): the package's Python layer, its relational API, which
        # Breadcrumbs never uses, cost every command about 0.1 CPU-s to import (issue 11).
        import _duckdb as duckdb
    except ImportError:  # a DuckDB release that has no such module
        import duckdb

MIGRATIONS: list[str] = [
    # 1: the sheet-owned tables, rejects, and what the store owns beside the ledger.
    """
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
    CREATE TABLE contacts (
        contact_id VARCHAR PRIMARY KEY, email VARCHAR, name VARCHAR, first_name VARCHAR,
        company VARCHAR, title VARCHAR, relationship VARCHAR, phone VARCHAR, notes VARCHAR,
        linkedin VARCHAR, connected_on DATE, opt_out BOOLEAN, mailable BOOLEAN,
        unmailable_reason VARCHAR, source_file VARCHAR, source_row INTEGER);
    CREATE TABLE interactions (
        interaction_id VARCHAR PRIMARY KEY, contact_id VARCHAR, date DATE, kind VARCHAR,
        topic VARCHAR, notes VARCHAR, source_file VARCHAR, source_row INTEGER);
    CREATE TABLE referrals (
        referrer_id VARCHAR, referred_id VARCHAR, interaction_id VARCHAR, seq INTEGER);
    CREATE TABLE prospects (
        prospect_id VARCHAR PRIMARY KEY, company VARCHAR, role VARCHAR, stage VARCHAR,
        referral_wanted BOOLEAN, share BOOLEAN, notes VARCHAR, source_file VARCHAR,
        source_row INTEGER);
    CREATE TABLE rejects (
        sync_id INTEGER, file VARCHAR, "row" INTEGER, "column" VARCHAR, value VARCHAR,
        reason VARCHAR, severity VARCHAR);
    CREATE TABLE syncs (
        sync_id INTEGER PRIMARY KEY, synced_at TIMESTAMPTZ, synced_on DATE, source VARCHAR,
        contacts INTEGER, interactions INTEGER, referrals INTEGER, prospects INTEGER,
        merged INTEGER, created INTEGER, rejected INTEGER);
    CREATE TABLE opt_outs (email VARCHAR PRIMARY KEY, opted_out_on DATE, via VARCHAR);
    CREATE TABLE unmailable (email VARCHAR PRIMARY KEY, reason VARCHAR, found_on DATE);
    CREATE TABLE mailbox_touches (
        provider_id VARCHAR PRIMARY KEY, email VARCHAR, direction VARCHAR, touched_on DATE,
        subject VARCHAR);
    """,
    # 2: the ledger, one row per intended email keyed by its reason (see ledger.py).
    """
    CREATE TABLE messages (
        key VARCHAR PRIMARY KEY, kind VARCHAR, contact_id VARCHAR, email VARCHAR,
        subject VARCHAR, message_id VARCHAR, state VARCHAR, reason VARCHAR, mode VARCHAR,
        raw BLOB, for_date DATE, planned_on DATE, planned_at TIMESTAMPTZ,
        updated_at TIMESTAMPTZ, delivered_on DATE, provider_id VARCHAR,
        stored_message_id VARCHAR, attempts INTEGER DEFAULT 0);
    CREATE TABLE skips (key VARCHAR PRIMARY KEY, skipped_on DATE, reason VARCHAR);
    """,
    # 3: a contact's touches: conversations, emails delivered, and mail seen in the mailbox.
    """
    CREATE VIEW touches AS
        SELECT contact_id, date AS touched_on, 'conversation' AS via FROM interactions
        UNION ALL
        SELECT contact_id, coalesce(delivered_on, planned_on), 'email ' || state
        FROM messages WHERE state IN ('sent', 'drafted', 'written')
        UNION ALL
        SELECT c.contact_id, t.touched_on, 'mailbox ' || t.direction
        FROM mailbox_touches t JOIN contacts c ON lower(c.email) = t.email;
    CREATE VIEW last_touch AS
        SELECT contact_id, max(touched_on) AS last_touch FROM touches GROUP BY contact_id;
    """,
    # 4 (issue 8): each ledger row keeps the Due it was composed from, so one planned on an
    # earlier day is composed again on the day it leaves; `withdrawn` is a new state (no
    # schema needed).
    """
    ALTER TABLE messages ADD COLUMN due VARCHAR;
    """,
    # 5: moments, not only days: when a conversation started (the sheet's optional time) and
    # when mail was sent, in the user's zone, so mail before a meeting never thanks it.
    """
    ALTER TABLE interactions ADD COLUMN time TIME;
    ALTER TABLE mailbox_touches ADD COLUMN touched_local TIMESTAMP;
    """,
    # 6: who is who: people and their addresses, kept across syncs (see identity.py).
    identity.MIGRATION,
    # 7 (issue 11): what detect reads instead of every conversation, kept by each sync.
    derived.MIGRATION,
]

LOCK_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class SyncCounts:
    sync_id: int
    contacts: int
    interactions: int
    referrals: int
    prospects: int
    merged: int
    created: int
    rejected: int


@contextmanager
def workspace_lock(workspace: Workspace, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the workspace for one run: a second run waits, then says who holds it."""
    workspace.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(workspace.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WorkspaceError(
                        f"{workspace.root}: another breadcrumbs run is using this workspace; "
                        "wait for it to finish and try again"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies


# Stores held open by `one_opening`, by database file: open_store hands out the same
# connection inside it instead of opening the file again.
_held_open: dict[str, duckdb.DuckDBPyConnection] = {}
# What to do just before a held store closes, by database file (`when_closing`).
_closing: dict[str, list[Callable[[], None]]] = {}


def when_closing(con: duckdb.DuckDBPyConnection, action: Callable[[], None]) -> bool:
    """If `con` is a store held open by `one_opening`, run `action` just before it closes
    (when its block ends without an error) and say so; False if it is not held. Detect
    leaves what a month's update only shows in the store while it is held, and fetches
    what is left as it closes (detect.py, issue 11)."""
    for key, held in _held_open.items():
        if held is con:
            _closing.setdefault(key, []).append(action)
            return True
    return False


@contextmanager
def one_opening(workspace: Workspace) -> Iterator[None]:
    """Stages run back to back share one opening of the store: inside this block every
    `open_store` of the workspace is the same connection, locked and migrated once, closed
    when the block ends (issue 11: opening DuckDB costs about 20 ms of CPU, and the CLI's
    follow-up opened it four times before composing anything). Only for stages that follow
    each other at once: a connection held through compose or delivery would keep what the
    earlier stages read in memory, and other runs waiting, for the whole batch."""
    with open_store(workspace) as con:
        key = str(workspace.db_path)
        _held_open[key] = con
        try:
            yield
        except BaseException:
            _closing.pop(key, None)
            raise
        else:
            for action in _closing.pop(key, []):
                action()
        finally:
            del _held_open[key]


@contextmanager
def open_store(workspace: Workspace, lock: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """The workspace's database, migrated, locked for this run and closed promptly."""
    held = _held_open.get(str(workspace.db_path))
    if held is not None:  # inside one_opening: already locked, migrated, and closed by it
        yield held
        return
    with workspace_lock(workspace) if lock else _nothing():
        try:
            con = duckdb.connect(str(workspace.db_path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise _unreadable(workspace, exc) from None
            raise WorkspaceError(
                f"{workspace.db_path}: another program has the database open ({exc}); "
                "close it and try again"
            ) from None
        except duckdb.Error as exc:
            raise _unreadable(workspace, exc) from None
        try:
            # DuckDB draws a progress bar on stdout for a statement over 2 s, terminal or not:
            # it would land in the middle of a sync's report (or a `--json` answer).
            con.execute("SET enable_progress_bar = false")
            migrate(con)
            yield con
        finally:
            con.close()


def _unreadable(workspace: Workspace, exc: Exception) -> WorkspaceError:
    return WorkspaceError(
        f"{workspace.db_path}: not a database Breadcrumbs can read ({exc}); it holds the "
        "ledger of sent emails, so move it aside rather than deleting it, then sync again"
    )


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the migrations this file has not seen yet, each in its own transaction."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    current = int(row[0]) if row else 0
    for version, sql in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, clock.now()])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def insert_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert many rows in one statement: each column goes in as one typed list.

    Row-at-a-time inserts were the slow part of an earlier pipeline; unnesting parallel lists
    lets DuckDB take the whole batch at once.
    """
    if not rows:
        return
    insert_lists(con, table, columns, [list(col) for col in zip(*rows, strict=True)])


def insert_lists(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    data: Sequence[list[Any]],
) -> None:
    """insert_columns with the columns already apart: one list per column, equally long."""
    if not data or not data[0]:
        return
    names = ", ".join(f'"{name}"' for name, _ in columns)
    unnests = ", ".join(
        f'unnest(${i}::{kind}[]) AS "{name}"' for i, (name, kind) in enumerate(columns, 1)
    )
    con.execute(f"INSERT INTO {table} ({names}) SELECT {unnests}", list(data))


# Rows per INSERT of records: DuckDB turns each list parameter into values of its own
# before inserting, so a million rows in one statement held a second copy of the sheet
# (peak memory, issue 11); this many keep that copy small at the same speed.
CHUNK = 50_000


def insert_records(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    records: Sequence[object],
) -> None:
    """Insert records whose attributes are named as the columns, a chunk at a time."""
    getters = [attrgetter(name) for name, _ in columns]
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        insert_lists(con, table, columns, [list(map(get, chunk)) for get in getters])


CONTACT_COLUMNS = [
    ("contact_id", "VARCHAR"),
    ("email", "VARCHAR"),
    ("name", "VARCHAR"),
    ("first_name", "VARCHAR"),
    ("company", "VARCHAR"),
    ("title", "VARCHAR"),
    ("relationship", "VARCHAR"),
    ("phone", "VARCHAR"),
    ("notes", "VARCHAR"),
    ("linkedin", "VARCHAR"),
    ("connected_on", "DATE"),
    ("opt_out", "BOOLEAN"),
    ("mailable", "BOOLEAN"),
    ("unmailable_reason", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("source_row", "INTEGER"),
]
INTERACTION_COLUMNS = [
    ("interaction_id", "VARCHAR"),
    ("contact_id", "VARCHAR"),
    ("date", "DATE"),
    ("kind", "VARCHAR"),
    ("topic", "VARCHAR"),
    ("notes", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("source_row", "INTEGER"),
    ("time", "TIME"),
]
REFERRAL_COLUMNS = [
    ("referrer_id", "VARCHAR"),
    ("referred_id", "VARCHAR"),
    ("interaction_id", "VARCHAR"),
    ("seq", "INTEGER"),
]
PROSPECT_COLUMNS = [
    ("prospect_id", "VARCHAR"),
    ("company", "VARCHAR"),
    ("role", "VARCHAR"),
    ("stage", "VARCHAR"),
    ("referral_wanted", "BOOLEAN"),
    ("share", "BOOLEAN"),
    ("notes", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("source_row", "INTEGER"),
]
REJECT_COLUMNS = [
    ("sync_id", "INTEGER"),
    ("file", "VARCHAR"),
    ("row", "INTEGER"),
    ("column", "VARCHAR"),
    ("value", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("severity", "VARCHAR"),
]


# DuckDB's memory during a sync's load (issue 11: peak memory at 100k contacts / 1M
# conversations). Left alone, DuckDB holds up to 80% of the machine's memory and keeps what
# its joins and the load's uncommitted rows used; bounded, it writes them out to its
# temporary files instead. The bound follows the sheet: this many bytes per row read
# (1.1M rows: 527 MB; the whole process peaks about 920 MiB instead of 1,360, and writes
# 60 MiB more than unbounded; at 384 bytes a row it peaked 890 but wrote 230 MiB more, with
# more CPU; below about 200 MB DuckDB runs out), never below the floor, which no ordinary
# sheet comes near, and never above DuckDB's own limit. A sheet that needs more than its
# bound fails with OutOfMemoryException, and the sync is then done again without one
# (sync.load_stage): nothing is lost, only time.
MEMORY_PER_ROW = 480
MEMORY_FLOOR = 256 * 2**20


def memory_bound(rows: int) -> int:
    """The memory limit, in bytes, for loading a sheet of this many rows."""
    return max(MEMORY_FLOOR, MEMORY_PER_ROW * rows)


_UNITS = {
    "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def _bytes_of(setting: str) -> int | None:
    """DuckDB's way of saying an amount of memory ('19.1 GiB', '500.0 MB') in bytes."""
    number, _, unit = setting.strip().partition(" ")
    try:
        return int(float(number) * _UNITS[unit.strip().lower() or "bytes"])
    except (KeyError, ValueError):
        return None


def _limit_of(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    return str(row[0]) if row else ""


@contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: int | None) -> Iterator[None]:
    """DuckDB's memory limit lowered to `limit` bytes for the block, then put back as it was
    (the setting is the database's: a store held open by one_opening goes on after the
    sync). Never raised: a machine smaller than the bound keeps DuckDB's own."""
    before = _limit_of(con) if limit else ""
    current = _bytes_of(before)
    if limit is None or current is None or current <= limit:
        yield
        return
    try:
        con.execute(f"SET memory_limit = '{int(limit)}B'")
    except duckdb.OutOfMemoryException:  # DuckDB holds more than that already: left as it is
        yield
        return
    try:
        yield
    finally:
        # DuckDB's own default exactly, as it was (it says a limit rounded, so setting back
        # what it said drifts), or else what it said.
        con.execute("RESET memory_limit")
        if _bytes_of(_limit_of(con)) != current:
            con.execute(f"SET memory_limit = '{before}'")


def load(
    con: duckdb.DuckDBPyConnection, data: Validated, source: str, limit: int | None = None
) -> SyncCounts:
    """Replace the sheet-owned tables with this sync's records, all or nothing; DuckDB's memory
    bounded by `limit` bytes (OutOfMemoryException, the store untouched, if that is too few:
    `data` has been changed by then, so only a sync read again can be loaded)."""
    with memory_limit(con, limit):
        try:
            return _load(con, data, source, bounded=limit is not None)
        except duckdb.OutOfMemoryException:
            from breadcrumbs.validate import forget_staged

            forget_staged(con, data)  # its temporary tables: the retry makes its own
            raise


def _load(
    con: duckdb.DuckDBPyConnection, data: Validated, source: str, bounded: bool
) -> SyncCounts:
    if data.staged is not None:  # a conversations sheet DuckDB reads: judged now, in its
        from breadcrumbs.validate import validate_staged  # temporary tables

        validate_staged(con, data, bounded)
    con.execute("BEGIN")
    try:
        row = con.execute("SELECT coalesce(max(sync_id), 0) + 1 FROM syncs").fetchone()
        sync_id = int(row[0]) if row else 1
        # Contacts, conversations and referrals carry person ids from here on.
        run, people = data.staged, len(data.contacts)
        pending = identity.resolve_identities(con, data)
        # Identity left the staged sheet's judgement as it was (nobody moved, refused or
        # dropped): the tables hold it exactly, and the next sync may reuse it (judged.py).
        clean = run is not None and data.staged is run and len(data.contacts) == people
        reused = run if clean and run is not None and run.reused else None
        # A reused judgement (its re-sync): the rows that differ are written over, in place,
        # in each table where they line up with the last sync's; else filled again.
        kept = {"interactions", "referrals", "rejects", "contacts"} if reused else set()
        if reused is not None and not judged.write_contacts(con, data):
            kept.discard("contacts")
        for table in ("contacts", "interactions", "referrals", "prospects", "rejects"):
            if table not in kept:
                _empty(con, table)
        if "contacts" not in kept:
            insert_records(con, "contacts", CONTACT_COLUMNS, data.contacts)
        changed: tuple[list[str], bool] | None = None
        if reused is not None:  # the last sync's conversations and referrals, where they are
            changed = judged.write_reused(con, data)
        insert_records(con, "interactions", INTERACTION_COLUMNS, data.interactions)
        if reused is None:
            insert_records(con, "referrals", REFERRAL_COLUMNS, data.referrals)
        staged = data.staged
        if staged is not None and reused is None:
            for table, columns in (
                ("interactions", INTERACTION_COLUMNS),
                ("referrals", REFERRAL_COLUMNS),
            ):
                names = ", ".join(f'"{name}"' for name, _ in columns)
                con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _st_{table}")
        if staged is not None:
            from breadcrumbs.validate import drop_staged

            drop_staged(con, data)
        insert_records(con, "prospects", PROSPECT_COLUMNS, data.prospects)
        if reused is not None and judged.write_rejects(con, data, reused, sync_id) is None:
            kept.discard("rejects")
            _empty(con, "rejects")
        for start in range(0, 0 if "rejects" in kept else len(data.rejects), CHUNK):
            insert_columns(
                con,
                "rejects",
                REJECT_COLUMNS,
                [
                    (sync_id, r.file, r.row, r.column, r.value[:500], r.reason, r.severity)
                    for r in data.rejects[start : start + CHUNK]
                ],
            )
        # An opt-out seen once in the sheet is kept by the store: deleting the cell later, or
        # syncing an older copy of the sheet, must never start emails again.
        con.execute(
            "INSERT INTO opt_outs SELECT DISTINCT lower(email), ?, 'sheet' FROM contacts "
            "WHERE opt_out AND email IS NOT NULL ON CONFLICT DO NOTHING",
            [clock.today()],
        )
        identity.record_identities(con, pending)
        if changed is not None and not changed[1] and derived.known():
            # Only conversations' topic and notes moved: what the derived tables read of them.
            derived.refresh_topics(con, changed[0])
        else:
            derived.refresh(con)
        judged.remember(con, data, run, clean)
        counts = SyncCounts(
            sync_id,
            len(data.contacts),
            len(data.interactions) + (staged.interactions if staged else 0),
            len(data.referrals) + (staged.referrals if staged else 0),
            len(data.prospects),
            data.merged,
            data.created,
            sum(1 for r in data.rejects if r.severity in ("row", "cell")),
        )
        con.execute(
            "INSERT INTO syncs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sync_id,
                clock.now(),
                clock.today(),
                source,
                counts.contacts,
                counts.interactions,
                counts.referrals,
                counts.prospects,
                counts.merged,
                counts.created,
                counts.rejected,
            ],
        )
        set_meta(con, "source", source)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _empty(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Empty a sheet table inside the caller's transaction, as DuckDB does it cheaply.

    DELETE of every row, then inserting the same primary keys again, made the commit
    rewrite the key index row by row (90 s for 1M rows against 2 s for this). Dropping the
    table and creating it again from its own current DDL (migrated columns and keys
    included) is one catalog change, undone by a rollback like the rest of the load; the
    views over it are bound by name when queried, so they see the new table.
    """
    row = con.execute(
        "SELECT sql FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?",
        [table],
    ).fetchone()
    if row is None:
        raise LookupError(f"no table {table} in this store")
    con.execute(f"DROP TABLE {table}")
    con.execute(str(row[0]))


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def fold_accents(text: str) -> str:
    """A name as a person types it: case, accents and spacing ignored ("renee lefevre")."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def find_contact(con: duckdb.DuckDBPyConnection, who: str) -> tuple[str, str] | None:
    """A contact by email, whole name, or unique part of a name, whatever the accents and
    case ("Renee Lefevre" finds "Renée Lefèvre"): (contact_id, name)."""
    wanted = fold_accents(who)
    people = [
        (str(r[0]), str(r[1] or ""), str(r[2] or "").lower())
        for r in con.execute(
            "SELECT contact_id, name, email FROM contacts ORDER BY source_row"
        ).fetchall()
    ]
    found = [p for p in people if wanted in (p[2], fold_accents(p[1]))]
    if not found:
        found = [p for p in people if wanted in fold_accents(p[1])]
        if len(found) > 1:
            return None
    return (found[0][0], found[0][1]) if found else None


def trail(con: duckdb.DuckDBPyConnection, contact_id: str) -> list[tuple[str, str, bool]]:
    """The referral chain from a person back to the first warm contact.

    Each step follows the earliest referral that named that person. Returns
    (contact_id, name, loops) per step; `loops` marks a step whose referrer is already on
    the chain (a cycle or a self-referral), where the walk stops.
    """
    rows = con.execute(
        """
        WITH RECURSIVE first_referrer AS (
            SELECT referred_id, arg_min(referrer_id, seq) AS referrer_id
            FROM referrals GROUP BY referred_id
        ),
        walk(contact_id, depth, path) AS (
            SELECT ?::VARCHAR, 0, [?::VARCHAR]
            UNION ALL
            SELECT f.referrer_id, w.depth + 1, list_append(w.path, f.referrer_id)
            FROM walk w JOIN first_referrer f ON f.referred_id = w.contact_id
            WHERE NOT list_contains(array_pop_back(w.path), w.contact_id) AND w.depth < 1000
        )
        SELECT w.contact_id, coalesce(c.name, w.contact_id),
               list_contains(array_pop_back(w.path), w.contact_id) AS loops
        FROM walk w LEFT JOIN contacts c USING (contact_id)
        ORDER BY w.depth
        """,
        [contact_id, contact_id],
    ).fetchall()
    return [(str(r[0]), str(r[1]), bool(r[2])) for r in rows]
