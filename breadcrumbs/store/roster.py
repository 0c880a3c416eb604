"""The monthly roster: who gets month M's update, kept in the ledger (issue #9).

The month's first run lists its recipients as ledger rows in state `listed` (keyed
`monthly:<contact>:<YYYY-MM>`, no message yet) and marks the month decided, in one
transaction. A later run composes a listed row when etiquette lets it leave (`planned`), and
the ledger delivers it as any other. A row its month outlived is `withdrawn`, never sent late.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from breadcrumbs import clock
from breadcrumbs.records import Composed, Due
from breadcrumbs.store.database import get_meta, insert_columns, set_meta

# Rows of a month not yet delivered: what a later run of that month still has to do.
OPEN = ("listed", "planned", "deferred", "sending", "unknown")
_LISTED_COLUMNS = [
    ("key", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("contact_id", "VARCHAR"),
    ("email", "VARCHAR"),
    ("state", "VARCHAR"),
    ("mode", "VARCHAR"),
    ("for_date", "DATE"),
    ("planned_on", "DATE"),
    ("planned_at", "TIMESTAMPTZ"),
    ("updated_at", "TIMESTAMPTZ"),
    ("attempts", "INTEGER"),
]


def month_start(month: str) -> date:
    return date.fromisoformat(f"{month}-01")


def decided_on(con: duckdb.DuckDBPyConnection, month: str) -> str | None:
    """The day the month's first run listed its recipients, or None before it."""
    return get_meta(con, f"monthly-decided:{month}")


def list_recipients(
    con: duckdb.DuckDBPyConnection, month: str, recipients: Sequence[Due], mode: str
) -> None:
    """The month's first run: record who gets its update, and that the month is decided."""
    today, now, first = clock.today(), clock.now(), month_start(month)
    con.execute("BEGIN")
    try:
        insert_columns(
            con,
            "messages",
            _LISTED_COLUMNS,
            [
                (d.key, "monthly", d.contact_id, d.email, "listed", mode, first, today, now, now, 0)
                for d in recipients
            ],
        )
        set_meta(con, f"monthly-decided:{month}", today.isoformat())
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def fill_listed(con: duckdb.DuckDBPyConnection, batch: Sequence[Composed], mode: str) -> None:
    """Listed rows whose email is composed become `planned`, written as of today."""
    if not batch:
        return
    today = clock.today()
    con.execute("BEGIN")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE filled AS SELECT unnest($1::VARCHAR[]) AS key, "
            "unnest($2::VARCHAR[]) AS email, unnest($3::VARCHAR[]) AS subject, "
            "unnest($4::VARCHAR[]) AS message_id, unnest($5::BLOB[]) AS raw, "
            "unnest($6::TIMESTAMPTZ[]) AS planned_at",
            [
                [c.email.key for c in batch],
                [c.email.to_addr for c in batch],
                [c.email.subject for c in batch],
                [c.email.message_id for c in batch],
                [c.email.raw for c in batch],
                [c.email.planned_at for c in batch],
            ],
        )
        con.execute(
            """
            UPDATE messages SET state = 'planned', email = f.email, subject = f.subject,
                message_id = f.message_id, raw = f.raw, planned_at = f.planned_at,
                planned_on = $1, updated_at = $2, mode = $3
            FROM filled f WHERE messages.key = f.key AND messages.state = 'listed'
            """,
            [today, clock.now(), mode],
        )
        con.execute("DROP TABLE filled")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def withdraw_past_months(con: duckdb.DuckDBPyConnection, today: date) -> int:
    """An update not delivered by the end of its month is withdrawn: never a November
    update in December. Rows whose delivery is uncertain (`sending`, `unknown`) are looked
    up first by the deliver stage, which runs this again after settling them."""
    first = today.replace(day=1)
    row = con.execute(
        """
        UPDATE messages SET state = 'withdrawn', updated_at = $1,
            reason = 'its month ended before it could be delivered'
        WHERE kind = 'monthly' AND for_date < $2 AND state IN ('listed', 'planned', 'deferred')
        RETURNING key
        """,
        [clock.now(), first],
    ).fetchall()
    return len(row)


def month_counts(con: duckdb.DuckDBPyConnection, month: str) -> dict[str, int]:
    """The month's monthly rows by ledger state."""
    rows = con.execute(
        "SELECT state, count(*) FROM messages WHERE kind = 'monthly' AND for_date = ? "
        "GROUP BY state",
        [month_start(month)],
    ).fetchall()
    return {str(state): int(n) for state, n in rows}
