"""One sync: read the source, validate its rows, load them into the store.

Plain Python with one function per stage, so the Prefect flow (sync_flow.py) can make each
a task, and the CLI can run them directly when no Prefect server is about.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from breadcrumbs.errors import SourceError
from breadcrumbs.profile import Profile, load_profile
from breadcrumbs.settings import Workspace
from breadcrumbs.sources.read import RawTable, SheetReader, Table, read_source, sheet_id_of
from breadcrumbs.store.database import SyncCounts, get_meta, load, open_store
from breadcrumbs.validate import Reject, Validated, validate


@dataclass
class SyncReport:
    source: str
    counts: SyncCounts
    rejects: list[Reject] = field(default_factory=list)

    @property
    def reasons(self) -> Counter[str]:
        """Refused rows by reason, without the detail after a colon."""
        return Counter(r.reason.split(":")[0] for r in self.rejects if r.severity == "row")

    @property
    def notices(self) -> Counter[str]:
        """Rows loaded with a warning: a cell dropped (an invalid email keeps the person, who
        is never mailed), a merge conflict, a value read a certain way. Not refused."""
        return Counter(r.reason.split(":")[0] for r in self.rejects if r.severity != "row")


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
    return read_source(source, sheet_reader)


def validate_stage(tables: list[Table], profile: Profile) -> Validated:
    return validate(tables, profile.source.slash_dates)


def load_stage(workspace: Workspace, data: Validated, source: str) -> SyncReport:
    with open_store(workspace) as con:
        counts = load(con, data, source)
    return SyncReport(source, counts, data.rejects)


def run_sync(
    workspace: Workspace, source: str | None = None, sheet_reader: SheetReader | None = None
) -> SyncReport:
    profile = load_profile(workspace.profile_path)
    resolved = resolve_source(workspace, source, profile)
    tables = read_stage(resolved, sheet_reader or sheet_reader_for(workspace))
    data = validate_stage(tables, profile)
    return load_stage(workspace, data, resolved)
