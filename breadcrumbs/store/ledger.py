"""The ledger: one row per intended email, keyed by its reason, so each goes at most once.

States: planned -> sending -> sent | drafted | written, and failed, deferred, unknown.
A row is committed as `sending` before its mail leaves. A row left `sending` or `unknown`
(a crash, a timeout, a dropped connection) is never delivered again blindly: the mailer
looks it up first (`find_delivered`). Prefect's states are for watching; this is the truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from breadcrumbs import clock
from breadcrumbs.records import Composed, Delivery, OutgoingEmail
from breadcrumbs.store.database import insert_columns

DELIVERED = ("sent", "drafted", "written")
# Rows that count as "this email exists": they block a second email for the same reason.
LIVE = ("planned", "sending", "unknown", "deferred", *DELIVERED)
UNSETTLED = ("sending", "unknown")  # may or may not have left: look up before anything else
WAITING = ("planned", "deferred")  # certainly not delivered yet: deliver when allowed

MESSAGE_COLUMNS = [
    ("key", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("contact_id", "VARCHAR"),
    ("email", "VARCHAR"),
    ("subject", "VARCHAR"),
    ("message_id", "VARCHAR"),
    ("state", "VARCHAR"),
    ("mode", "VARCHAR"),
    ("raw", "BLOB"),
    ("for_date", "DATE"),
    ("planned_on", "DATE"),
    ("planned_at", "TIMESTAMPTZ"),
    ("updated_at", "TIMESTAMPTZ"),
    ("attempts", "INTEGER"),
]


@dataclass(frozen=True)
class Row:
    key: str
    kind: str
    contact_id: str
    email: str
    subject: str
    message_id: str
    state: str
    mode: str
    raw: bytes
    planned_at: datetime

    def outgoing(self) -> OutgoingEmail:
        return OutgoingEmail(
            self.key, self.email, self.subject, self.message_id, self.raw, self.planned_at
        )


def plan(
    con: duckdb.DuckDBPyConnection, batch: Sequence[Composed], mode: str, state: str = "planned"
) -> list[str]:
    """Record intended emails in one transaction; a key already there is left untouched.

    Returns the keys this call recorded (a concurrent or earlier run may own the others).
    """
    if not batch:
        return []
    today, now = clock.today(), clock.now()
    keys = [c.email.key for c in batch]
    con.execute("BEGIN")
    try:
        existing = {
            r[0]
            for r in con.execute(
                "SELECT key FROM messages WHERE key IN (SELECT unnest($1::VARCHAR[]))", [keys]
            ).fetchall()
        }
        fresh = [c for c in batch if c.email.key not in existing]
        insert_columns(
            con,
            "messages",
            MESSAGE_COLUMNS,
            [
                (
                    c.email.key,
                    c.due.kind,
                    c.due.contact_id,
                    c.email.to_addr,
                    c.email.subject,
                    c.email.message_id,
                    state,
                    mode,
                    c.email.raw,
                    c.due.for_date,
                    today,
                    c.email.planned_at,
                    now,
                    0,
                )
                for c in fresh
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return [c.email.key for c in fresh]


def set_state(
    con: duckdb.DuckDBPyConnection,
    keys: Iterable[str],
    state: str,
    reason: str | None = None,
    delivery: Delivery | None = None,
    count_attempt: bool = False,
) -> None:
    """Move rows to a state in one committed statement (DuckDB autocommits it)."""
    keys = list(keys)
    if not keys:
        return
    delivered_on: date | None = clock.today() if state in DELIVERED else None
    con.execute(
        """
        UPDATE messages SET state = $state, reason = $reason, updated_at = $now,
            delivered_on = coalesce($delivered_on, delivered_on),
            provider_id = coalesce($provider_id, provider_id),
            stored_message_id = coalesce($stored, stored_message_id),
            attempts = attempts + $attempt
        WHERE key IN (SELECT unnest($keys::VARCHAR[]))
        """,
        {
            "state": state,
            "reason": reason,
            "now": clock.now(),
            "delivered_on": delivered_on,
            "provider_id": delivery.provider_id if delivery else None,
            "stored": delivery.stored_message_id if delivery else None,
            "attempt": 1 if count_attempt else 0,
            "keys": keys,
        },
    )


def rows_in(
    con: duckdb.DuckDBPyConnection, states: Sequence[str], modes: Sequence[str] | None = None
) -> list[Row]:
    query = (
        "SELECT key, kind, contact_id, email, subject, message_id, state, mode, raw, "
        "planned_at FROM messages WHERE state IN (SELECT unnest($1::VARCHAR[]))"
    )
    params: list[object] = [list(states)]
    if modes is not None:
        query += " AND mode IN (SELECT unnest($2::VARCHAR[]))"
        params.append(list(modes))
    rows = con.execute(query + " ORDER BY planned_at, key", params).fetchall()
    return [Row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bytes(r[8]), r[9]) for r in rows]


def delivered_today(con: duckdb.DuckDBPyConnection) -> int:
    """Emails that left today or may have: what the daily cap counts."""
    row = con.execute(
        "SELECT count(*) FROM messages WHERE planned_on = ? AND state IN "
        "('sending', 'unknown', 'sent', 'drafted', 'written')",
        [clock.today()],
    ).fetchone()
    return int(row[0]) if row else 0


def skip(con: duckdb.DuckDBPyConnection, key: str, reason: str = "skipped by the user") -> None:
    """Drop one due email for good: it will never be detected as due again."""
    con.execute(
        "INSERT INTO skips VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
        [key, clock.today(), reason],
    )
    con.execute(
        "UPDATE messages SET state = 'failed', reason = ?, updated_at = ? "
        "WHERE key = ? AND state IN ('planned', 'deferred')",
        [reason, clock.now(), key],
    )


def opt_out(con: duckdb.DuckDBPyConnection, email: str, undo: bool = False) -> None:
    if undo:
        con.execute("DELETE FROM opt_outs WHERE email = ?", [email.strip().lower()])
        return
    con.execute(
        "INSERT INTO opt_outs VALUES (?, ?, 'command line') ON CONFLICT (email) DO NOTHING",
        [email.strip().lower(), clock.today()],
    )


def status(con: duckdb.DuckDBPyConnection, limit: int | None = 50) -> dict[str, object]:
    """The counts by state, and every email, newest first (the newest `limit` of them)."""
    counts = dict(
        con.execute("SELECT state, count(*) FROM messages GROUP BY state ORDER BY state").fetchall()
    )
    columns = ["key", "kind", "name", "to", "subject", "state", "mode", "reason", "planned_at"]
    rows = con.execute(
        """
        SELECT m.key, m.kind, c.name, m.email, m.subject, m.state, m.mode, m.reason, m.planned_at
        FROM messages m LEFT JOIN contacts c USING (contact_id)
        ORDER BY m.planned_at DESC, m.key
        LIMIT $limit
        """,
        {"limit": limit},
    ).fetchall()
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "emails": [dict(zip(columns, row, strict=True)) for row in rows],
    }
