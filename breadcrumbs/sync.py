"""One sync: read the source, validate its rows, load them into the store.

Plain Python with one function per stage, so the Prefect flow (sync_flow.py) can make each
a task, and the CLI can run them directly when no Prefect server is about.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from breadcrumbs import __version__
from breadcrumbs.collector import collector_paused
from breadcrumbs.errors import SourceError
from breadcrumbs.profile import Profile, load_profile
from breadcrumbs.records import Reject
from breadcrumbs.settings import Workspace
from breadcrumbs.sources.headers import TABLES
from breadcrumbs.sources.read import (
    RawTable,
    SheetReader,
    Table,
    read_source,
    sheet_id_of,
)
from breadcrumbs.store.database import (
    MIGRATIONS,
    SyncCounts,
    duckdb,
    get_meta,
    load,
    memory_bound,
    open_store,
    set_meta,
)

if TYPE_CHECKING:
    from breadcrumbs.validate import Validated

FINGERPRINT = "source_fingerprint"  # meta key: what the loaded tables were read from


@dataclass
class SyncReport:
    source: str
    counts: SyncCounts
    rejects: list[Reject] = field(default_factory=list)
    unchanged: bool = False  # the source was as the last sync read it: nothing was loaded

    @property
    def reasons(self) -> Counter[str]:
        """Refused rows by reason, without the detail after a colon."""
        return _by_reason(r.reason for r in self.rejects if r.severity == "row")

    @property
    def notices(self) -> Counter[str]:
        """Rows loaded with a warning: a cell dropped (an invalid email keeps the person, who
        is never mailed), a merge conflict, a value read a certain way. Not refused."""
        return _by_reason(r.reason for r in self.rejects if r.severity != "row")


def _by_reason(reasons: Iterable[str]) -> Counter[str]:
    """How many of each reason, without the detail after a colon: each distinct text cut once
    (240,000 rejects share about 5,000 texts), counted in the order the rejects first say it."""
    cut: Counter[str] = Counter()
    for reason, count in Counter(reasons).items():
        cut[reason.split(":")[0]] += count
    return cut


def resolve_source(workspace: Workspace, explicit: str | None, profile: Profile) -> str:
    """The source named now, else the profile's `[source] path`, else the one remembered."""
    if explicit:
        if sheet_id_of(explicit) is not None:
            return explicit.strip()
        return str(Path(explicit).expanduser().resolve())
    if profile.source.path:
        path = profile.source.path
        if sheet_id_of(path) is None and not Path(path).is_absolute():
            path = str((workspace.root / path).resolve())
        return path
    if workspace.db_path.exists():
        with open_store(workspace) as con:
            remembered = get_meta(con, "source")
        if remembered:
            return remembered
    raise SourceError(
        "no source yet: run `breadcrumbs sync SOURCE` once with your spreadsheet "
        "(a folder of CSV files, an .xlsx workbook, a contacts export or a Google Sheet URL)"
    )


def sheet_reader_for(workspace: Workspace) -> SheetReader:
    """Google Sheets is read only when a source is one, with the workspace's Google token."""

    def read(sheet_id: str) -> list[RawTable]:
        from breadcrumbs.google.sheets import read_sheet

        return read_sheet(workspace, sheet_id)

    return read


def read_stage(source: str, sheet_reader: SheetReader | None = None) -> list[Table]:
    with collector_paused():
        # A folder's plain conversations CSV is left for DuckDB to read (sources/staged.py).
        return read_source(source, sheet_reader, stage=True)


def validate_stage(tables: list[Table], profile: Profile) -> Validated:
    from breadcrumbs.validate import validate  # email-validator: only a sync that loads needs it

    with collector_paused():
        return validate(tables, profile.source.slash_dates)


def load_stage(
    workspace: Workspace,
    data: Validated,
    source: str,
    fingerprint: str | None = None,
    again: Callable[[], Validated] | None = None,
) -> SyncReport:
    """Load, and remember the fingerprint of what was read (none: the next sync reads again).

    DuckDB's memory is bounded for the load by the sheet's size (store.database.memory_bound,
    issue 11). A sheet that needs more than that makes DuckDB run out, with the store as it
    was (the load is one transaction); the sync is then done again with DuckDB's own limit:
    read and validated again by `again` (the source read as before, by default), since the
    first load has changed the validated data."""
    rows = len(data.contacts) + len(data.interactions) + len(data.prospects)
    rows += data.staged.sheet.lines if data.staged is not None else 0
    try:
        return _load_once(workspace, data, source, fingerprint, memory_bound(rows))
    except duckdb.OutOfMemoryException:
        pass
    del data  # its records and rejects: the sync read again holds its own
    if again is None:
        profile = load_profile(workspace.profile_path)
        again = lambda: validate_stage(read_stage(source, sheet_reader_for(workspace)), profile)  # noqa: E731
    return _load_once(workspace, again(), source, fingerprint, None)


def _load_once(
    workspace: Workspace, data: Validated, source: str, fingerprint: str | None, limit: int | None
) -> SyncReport:
    with open_store(workspace) as con, collector_paused():
        counts = load(con, data, source, limit)
        set_meta(con, FINGERPRINT, fingerprint or "")
    return SyncReport(source, counts, data.rejects)


def source_fingerprint(source: str, profile: Profile) -> str | None:
    """A hash of everything a sync of a local source reads, taken before it is read.

    The files' bytes, the setting that changes how they read, and the version of the code
    and schema that reads them. A Google Sheet has none: only reading it tells. A file that
    changes between this hash and the read is merely read again next time.
    """
    if sheet_id_of(source) is not None:
        return None
    path = Path(source)
    if path.is_dir():
        by_name = {p.name.lower(): p for p in path.iterdir() if p.is_file()}
        files = [by_name[f"{t}.csv"] for t in TABLES if f"{t}.csv" in by_name]
    elif path.is_file():
        files = [path]
    else:
        return None  # the read says why
    digest = hashlib.sha256(
        f"{__version__}\0{len(MIGRATIONS)}\0{profile.source.slash_dates}\0{source}".encode()
    )
    for file in files:
        digest.update(f"\0{file.name}\0".encode())
        try:
            with file.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        except OSError:
            return None
    return digest.hexdigest()


def unchanged_since_last_sync(
    workspace: Workspace, source: str, fingerprint: str | None
) -> SyncReport | None:
    """The last sync's report if it read exactly this, else None: the sync must run.

    `follow-up` syncs first, usually a sheet nobody touched since the `sync` just before it
    (issue 11): re-reading, re-checking and re-loading it would change nothing.
    """
    if fingerprint is None or not workspace.db_path.exists():
        return None
    with open_store(workspace) as con:
        if get_meta(con, FINGERPRINT) != fingerprint:
            return None
        last = con.execute(
            "SELECT sync_id, contacts, interactions, referrals, prospects, merged, created, "
            "rejected FROM syncs ORDER BY sync_id DESC LIMIT 1"
        ).fetchone()
        if last is None:
            return None
        rejects = [
            Reject(str(f), int(r), str(c), str(v or ""), str(why), str(sev))
            for f, r, c, v, why, sev in con.execute(
                'SELECT file, "row", "column", value, reason, severity FROM rejects '
                'ORDER BY file, "row", "column"'
            ).fetchall()
        ]
    return SyncReport(source, SyncCounts(*(int(n) for n in last)), rejects, unchanged=True)


def run_sync(
    workspace: Workspace,
    source: str | None = None,
    sheet_reader: SheetReader | None = None,
    skip_unchanged: bool = False,
    say: Callable[[str], None] | None = None,
) -> SyncReport:
    """Read, validate, load. `skip_unchanged` (follow-up's own sync): not when the source is
    as the last sync read it; an explicit `breadcrumbs sync` always loads and logs a sync.
    `say` hears each stage as it starts: a sheet of a million rows takes a minute."""
    tell = say or (lambda _: None)
    profile = load_profile(workspace.profile_path)
    resolved = resolve_source(workspace, source, profile)
    fingerprint = source_fingerprint(resolved, profile)
    if skip_unchanged:
        unchanged = unchanged_since_last_sync(workspace, resolved, fingerprint)
        if unchanged is not None:
            return unchanged
    tell(f"reading {resolved}")
    tables = read_stage(resolved, sheet_reader or sheet_reader_for(workspace))
    rows = sum(len(t.rows) + (t.staged.lines if t.staged else 0) for t in tables)
    tell(f"checking {rows:,} {'row' if rows == 1 else 'rows'} of {len(tables)} sheets")
    # Held here only until load_stage has it: if it must read the sheet again, the first
    # reading's records are freed first (peak memory, issue 11).
    data = [validate_stage(tables, profile)]
    del tables  # the rows as read: the records hold what is loaded (peak memory, issue 11)
    tell("loading them into the workspace")

    def again() -> Validated:
        tell("reading it again, to load it with more memory")
        reader = sheet_reader or sheet_reader_for(workspace)
        return validate_stage(read_stage(resolved, reader), profile)

    return load_stage(workspace, data.pop(), resolved, fingerprint, again)
