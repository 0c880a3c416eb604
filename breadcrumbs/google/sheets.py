"""Read stage for a Google Sheet: its contacts, interactions and prospects tabs as raw tables.

The tabs are listed first (spreadsheets.get): a missing optional tab is not an error, while
values.batchGet fails whole when asked for one. Values come UNFORMATTED with dates as
SERIAL_NUMBER: a date cell arrives as the same day count an .xlsx holds, never as a
locale-formatted string whose day and month order we would have to guess. From here on a
sheet is validated exactly like a file (read_sources.understand, validate.py).
"""

from __future__ import annotations

from typing import Any

from breadcrumbs.errors import SourceError
from breadcrumbs.settings import Workspace
from breadcrumbs.sources.headers import TABLES
from breadcrumbs.sources.read import RawTable, raw_from_records


def read_sheet(workspace: Workspace, sheet_id: str) -> list[RawTable]:
    from googleapiclient.errors import HttpError

    from breadcrumbs.google.api import build_sheets, read_tabs, sheet_tabs
    from breadcrumbs.google.auth import credentials_for, ensure_fresh

    creds, save_to = credentials_for(workspace.root)
    ensure_fresh(creds, save_to)
    sheets = build_sheets(creds)
    try:
        titles = sheet_tabs(sheets, sheet_id)
        chosen = _choose_tabs(titles, sheet_id)
        values = read_tabs(
            sheets,
            sheet_id,
            list(chosen.values()),
            value_render="UNFORMATTED_VALUE",
            datetime_render="SERIAL_NUMBER",
        )
    except HttpError as exc:
        status = int(getattr(exc.resp, "status", 0) or 0)
        if status == 404:
            raise SourceError(f"Google Sheet {sheet_id}: not found; check the URL") from None
        if status == 403:
            raise SourceError(
                f"Google Sheet {sheet_id}: this Google account may not read it; share it "
                "with the account, or run `breadcrumbs auth --sheets` to grant access"
            ) from None
        raise SourceError(f"Google Sheet {sheet_id}: Google answered {status}") from None
    tables = []
    for name, title in chosen.items():
        records: list[list[Any]] = values.get(title, [])
        if not records:
            if name == "contacts":
                raise SourceError(f"Google Sheet tab {title!r}: the tab is empty")
            continue
        tables.append(raw_from_records(records, name, f"sheet[{title}]"))
    return tables


def _choose_tabs(titles: list[str], sheet_id: str) -> dict[str, str]:
    by_name = {t.strip().lower(): t for t in titles}
    chosen = {name: by_name[name] for name in TABLES if name in by_name}
    if "contacts" not in chosen:
        if len(titles) == 1:
            chosen["contacts"] = titles[0]  # a one-tab sheet is a list of people
        else:
            raise SourceError(
                f"Google Sheet {sheet_id}: no tab named contacts (tabs: {', '.join(titles)})"
            )
    return chosen
