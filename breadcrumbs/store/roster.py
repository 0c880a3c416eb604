"""The monthly roster: who gets month M's update, kept in the ledger (issue #9).

The month's first run lists its recipients as ledger rows in state `listed` (keyed
`monthly:<contact>:<YYYY-MM>`, no message yet) and marks the month decided, in one
transaction. A later run composes a listed row when etiquette lets it leave (`planned`), and
the ledger delivers it as any other. A row its month outlived is `withdrawn`, never sent late.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from breadcrumbs import clock
from breadcrumbs.moments import withdraw_reason
from breadcrumbs.outbox_names import file_name
from breadcrumbs.profile import Etiquette
from breadcrumbs.records import Composed
from breadcrumbs.store.database import get_meta, insert_columns, set_meta
from breadcrumbs.store.ledger import Row, all_alike, due_to_json

if TYPE_CHECKING:
    import duckdb

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
    con: duckdb.DuckDBPyConnection,
    month: str,
    recipients: Sequence[tuple[str, str, str]],
    mode: str,
) -> None:
    """The month's first run: record who gets its update (key, contact id and address of
    each: detect.listed_keys), and that the month is decided."""
    today, now, first = clock.today(), clock.now(), month_start(month)
    con.execute("BEGIN")
    try:
        insert_columns(
            con,
            "messages",
            _LISTED_COLUMNS,
            [
                (key, "monthly", contact_id, email, "listed", mode, first, today, now, now, 0)
                for key, contact_id, email in recipients
            ],
        )
        set_meta(con, f"monthly-decided:{month}", today.isoformat())
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def fill_listed(con: duckdb.DuckDBPyConnection, batch: Sequence[Composed], mode: str) -> list[Row]:
    """Listed rows whose email is composed become `planned`, written as of today, keeping
    the Due they were composed from (a row that leaves on a later day is composed again).
    In the outbox mode the message is not kept, its file name is (as ledger.plan does): the
    caller holds the messages for delivery (ledger.hold).

    Returns the rows it filled as `ledger.rows_in` would read them back (with no message in
    the outbox mode, as there), so delivery on the same connection need not read them again
    (ledger.hold_planned; issue 11: 0.1 CPU-s at 10,000)."""
    if not batch:
        return []
    today, now = clock.today(), clock.now()
    keep = mode != "outbox"
    dues = [due_to_json(c.due) for c in batch]
    names = [None if keep else file_name(c.email) for c in batch]
    con.execute("BEGIN")
    try:
        # A column every row has alike goes in once (the outbox's messages, Gmail's file
        # names: none; a batch's planned_at), not as ten thousand values (issue 11).
        at = [c.email.planned_at for c in batch]
        one_time = all_alike(at)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE filled AS SELECT unnest($1::VARCHAR[]) AS key, "
            "unnest($2::VARCHAR[]) AS email, unnest($3::VARCHAR[]) AS subject, "
            "unnest($4::VARCHAR[]) AS message_id, "
            + ("unnest($5::BLOB[])" if keep else "$5::BLOB")
            + " AS raw, "
            + ("$6::TIMESTAMPTZ" if one_time else "unnest($6::TIMESTAMPTZ[])")
            + " AS planned_at, unnest($7::VARCHAR[]) AS due, "
            + ("$8::VARCHAR" if keep else "unnest($8::VARCHAR[])")
            + " AS file_name",
            [
                [c.email.key for c in batch],
                [c.email.to_addr for c in batch],
                [c.email.subject for c in batch],
                [c.email.message_id for c in batch],
                [c.email.raw for c in batch] if keep else None,
                at[0] if one_time else at,
                dues,
                None if keep else names,
            ],
        )
        # What the UPDATE keeps of each row it fills (the rest is this batch's).
        listed = con.execute(
            "SELECT m.key, m.kind, m.contact_id, m.for_date FROM messages m "
            "JOIN filled f ON m.key = f.key WHERE m.state = 'listed'"
        ).fetchall()
        con.execute(
            """
            UPDATE messages SET state = 'planned', email = f.email, subject = f.subject,
                message_id = f.message_id, raw = f.raw, planned_at = f.planned_at,
                planned_on = $1, updated_at = $2, mode = $3, due = f.due,
                provider_id = coalesce(f.file_name, messages.provider_id)
            FROM filled f WHERE messages.key = f.key AND messages.state = 'listed'
            """,
            [today, now, mode],
        )
        con.execute("DROP TABLE filled")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    place = {c.email.key: i for i, c in enumerate(batch)}
    rows = []
    for key, kind, contact_id, for_date in listed:
        i = place[key]
        email = batch[i].email
        rows.append(
            Row(
                key,
                kind,
                contact_id,
                email.to_addr,
                email.subject,
                email.message_id,
                "planned",
                mode,
                email.raw if keep else None,
                email.planned_at,
                for_date,
                today,
                dues[i],
                names[i],
            )
        )
    return rows


def withdraw_past_months(con: duckdb.DuckDBPyConnection, today: date) -> int:
    """A listed update its month outlived is withdrawn: never a November update in
    December. Composed rows (`planned`, `deferred`) are withdrawn by the moments rule at
    delivery (moments.py); a listed row never reaches delivery, so it is withdrawn here,
    with the same reason."""
    rows = con.execute(
        "SELECT key FROM messages WHERE kind = 'monthly' AND state = 'listed' AND for_date < ?",
        [today.replace(day=1)],
    ).fetchall()
    now = clock.now()
    for (key,) in rows:
        reason = withdraw_reason(key, "monthly", None, today, Etiquette())
        con.execute(
            "UPDATE messages SET state = 'withdrawn', reason = ?, updated_at = ? WHERE key = ?",
            [reason, now, key],
        )
    return len(rows)


def month_counts(con: duckdb.DuckDBPyConnection, month: str) -> dict[str, int]:
    """The month's monthly rows by ledger state."""
    rows = con.execute(
        "SELECT state, count(*) FROM messages WHERE kind = 'monthly' AND for_date = ? "
        "GROUP BY state",
        [month_start(month)],
    ).fetchall()
    return {str(state): int(n) for state, n in rows}
