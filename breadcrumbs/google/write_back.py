"""Optional, off by default: write each contact's latest email state back to a Google Sheet.

A "Breadcrumbs" column of the contacts tab gets one line per contact ("thank-you sent
2026-11-25", "opted out", ...). Values go in with valueInputOption RAW, so nothing written is
ever parsed as a formula or a date. Rows are matched by the row number the sync recorded;
the column is found by its header, or added after the last header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from breadcrumbs.google.sheets import _choose_tabs
from breadcrumbs.sources.headers import find_header_row

if TYPE_CHECKING:
    import duckdb

HEADER = "Breadcrumbs"


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def statuses(con: duckdb.DuckDBPyConnection, file: str) -> dict[int, str]:
    """Row number -> what the sheet should say, for contacts that came from `file`."""
    rows = con.execute(
        """
        SELECT c.source_row,
               CASE WHEN c.opt_out OR o.email IS NOT NULL THEN 'opted out'
                    WHEN u.email IS NOT NULL THEN 'bounced: do not email'
                    WHEN m.key IS NOT NULL THEN m.kind || ' ' || m.state || ' '
                         || strftime(coalesce(m.delivered_on, m.planned_on), '%Y-%m-%d')
                    WHEN c.email IS NULL THEN 'no email: call'
                    ELSE '' END
        FROM contacts c
        LEFT JOIN opt_outs o ON o.email = lower(c.email)
        LEFT JOIN unmailable u ON u.email = lower(c.email)
        LEFT JOIN (SELECT * FROM messages QUALIFY row_number() OVER (
                       PARTITION BY contact_id ORDER BY updated_at DESC) = 1) m
               ON m.contact_id = c.contact_id
        WHERE c.source_file = ?
        """,
        [file],
    ).fetchall()
    return {int(r[0]): str(r[1]) for r in rows}


def write_back(sheets: Any, sheet_id: str, con: duckdb.DuckDBPyConnection) -> int:
    """Write the column; returns how many rows it covers."""
    from breadcrumbs.google.api import read_tabs, sheet_tabs, write_values

    title = _choose_tabs(sheet_tabs(sheets, sheet_id), sheet_id)["contacts"]
    records = read_tabs(sheets, sheet_id, [title]).get(title, [])
    header_index = find_header_row(records, "contacts")
    if header_index is None:
        return 0
    header = [str(c).strip() for c in records[header_index]]
    column = header.index(HEADER) if HEADER in header else len(header)
    by_row = statuses(con, f"sheet[{title}]")
    first, last = header_index + 1, len(records)
    values = [[HEADER]] + [[by_row.get(row, "")] for row in range(first + 1, last + 1)]
    letter = column_letters(column)
    quoted = "'" + title.replace("'", "''") + "'"
    write_values(sheets, sheet_id, f"{quoted}!{letter}{first}:{letter}{last}", values)
    return len(values) - 1
