"""The ledger: one row per intended email, keyed by its reason, so each goes at most once.

States: planned -> sending -> sent | drafted | written, and failed, deferred, unknown, and
withdrawn (it could not leave in its moment: see moments.py; the key is never planned again).
A row keeps the Due it was composed from, so a row planned on an earlier day is composed
again on the day it leaves. A row is committed as `sending` before its mail leaves. A row
left `sending` or `unknown` (a crash, a timeout, a dropped connection) is never delivered
again blindly: the mailer looks it up first (`find_delivered`). Prefect's states are for
watching; this is the truth.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from breadcrumbs import clock
from breadcrumbs.outbox_names import file_name
from breadcrumbs.records import Composed, Delivery, Due, OutgoingEmail

if TYPE_CHECKING:
    import duckdb

DELIVERED = ("sent", "drafted", "written")
# Rows that count as "this email exists": they block a second email for the same reason.
LIVE = ("planned", "sending", "unknown", "deferred", *DELIVERED)
UNSETTLED = ("sending", "unknown")  # may or may not have left: look up before anything else
WAITING = ("planned", "deferred")  # certainly not delivered yet: deliver when allowed

_DUE_FIELDS = [f.name for f in fields(Due)]
_DATE_FIELDS = {
    name
    for name, hint in typing.get_type_hints(Due).items()
    if hint is date or date in typing.get_args(hint)
}


def due_to_json(due: Due) -> str:
    """The facts an email was composed from, kept so it can be composed again later.

    Written field by field for the types a Due holds (str, None, a date, tuples of str or
    of tuples of str): JSONEncoder's own bytes (its ASCII escaping, ", " and ": "), without
    a dict and an encoder object per call (issue 11: 10,000 a batch). Any other value goes
    through the encoder (test_ledger compares the two)."""
    parts = []
    for prefix, value in zip(_PREFIXES, _FIELD_VALUES(due), strict=True):
        kind = type(value)
        if kind is str:
            parts.append(prefix + _STR(value))
        elif value is None:
            parts.append(prefix + "null")
        elif kind is date:
            parts.append(f'{prefix}"{value.isoformat()}"')
        elif kind is tuple and all(type(v) is str for v in value):
            parts.append(prefix + "[" + ", ".join([_STR(v) for v in value]) + "]")
        elif kind is tuple and all(
            type(v) is tuple and all(type(x) is str for x in v) for v in value
        ):
            inner = ["[" + ", ".join([_STR(x) for x in v]) + "]" for v in value]
            parts.append(prefix + "[" + ", ".join(inner) + "]")
        else:
            return _due_to_json(due)
    return "".join(parts) + "}"


def _due_to_json(due: Due) -> str:
    """due_to_json through JSONEncoder, for a Due holding a value of another type."""
    values = {name: getattr(due, name) for name in _DUE_FIELDS}
    for name in _DATE_FIELDS:  # as _json_value would, without a Python call per value
        value = values[name]
        if isinstance(value, date):
            values[name] = value.isoformat()
    return _ENCODE(values)


def _json_value(value: object) -> str:
    # Dates only: a value JSON cannot carry must fail here, not come back as a string later.
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"a Due field of type {type(value).__name__} cannot be kept in the ledger")


_ENCODE = json.JSONEncoder(default=_json_value).encode
_STR = json.encoder.encode_basestring_ascii  # the encoder's own escaping of a str
_FIELD_VALUES = attrgetter(*_DUE_FIELDS)
_PREFIXES = [("{" if i == 0 else ", ") + _STR(name) + ": " for i, name in enumerate(_DUE_FIELDS)]


def due_from_json(text: str) -> Due:
    """The Due `due_to_json` kept; JSON lists come back as tuples, ISO dates as dates."""
    data: dict[str, Any] = {}
    for name, value in json.loads(text).items():
        if name not in _DUE_FIELDS:
            continue  # a field a later version dropped
        if name in _DATE_FIELDS and isinstance(value, str):
            value = date.fromisoformat(value)
        data[name] = _tuples(value)
    return Due(**data)


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


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
    raw: bytes | None  # None: an outbox row this version planned (see plan)
    planned_at: datetime
    for_date: date | None
    planned_on: date
    due: str | None  # JSON of the Due (due_from_json); None in rows of older versions
    file_name: str | None = None  # an outbox row planned without its message: its file

    def with_raw(self, raw: bytes) -> Row:
        """This row with its message (dataclasses.replace costs more, at 10,000 rows)."""
        return Row(
            key=self.key,
            kind=self.kind,
            contact_id=self.contact_id,
            email=self.email,
            subject=self.subject,
            message_id=self.message_id,
            state=self.state,
            mode=self.mode,
            raw=raw,
            planned_at=self.planned_at,
            for_date=self.for_date,
            planned_on=self.planned_on,
            due=self.due,
            file_name=self.file_name,
        )

    def outgoing(self) -> OutgoingEmail:
        return OutgoingEmail(
            self.key,
            self.email,
            self.subject,
            self.message_id,
            self.raw or b"",
            self.planned_at,
            self.file_name,
        )


# Messages composed in this process but kept out of the ledger (an outbox row keeps only its
# file name, see plan and roster.fill_listed), by workspace, until delivery takes them: the
# digest composes in one stage and delivers in the next, which reads its rows from the ledger.
_held: dict[str, dict[str, OutgoingEmail]] = {}


def hold(workspace: object, emails: Iterable[OutgoingEmail]) -> None:
    _held.setdefault(str(workspace), {}).update((e.key, e) for e in emails)


def take_held(workspace: object) -> dict[str, OutgoingEmail]:
    """What `hold` kept for this workspace, once. A row whose planned_at differs is not this
    message (follow_up._compose_again checks), so a stale entry is never delivered."""
    return _held.pop(str(workspace), {})


# Rows the digest's compose stage just recorded (roster.fill_listed), by workspace, with the
# connection it recorded them on: delivery on that very connection (the CLI's one opening of
# the store, under one lock) takes them instead of reading them back (issue 11). Delivery on
# any other connection (a flow's next task: another run may have come between) reads them.
_planned: dict[str, tuple[object, list[Row]]] = {}


def hold_planned(workspace: object, con: duckdb.DuckDBPyConnection, rows: list[Row]) -> None:
    _planned[str(workspace)] = (con, rows)


def take_planned(workspace: object, con: duckdb.DuckDBPyConnection) -> list[Row]:
    """What `hold_planned` kept for this workspace, once, if recorded on `con`."""
    held = _planned.pop(str(workspace), None)
    return held[1] if held is not None and held[0] is con else []


def plan(
    con: duckdb.DuckDBPyConnection, batch: Sequence[Composed], mode: str, state: str = "planned"
) -> list[str]:
    """Record intended emails in one transaction; a key already there is left untouched.

    Returns the keys this call recorded (a concurrent or earlier run may own the others).
    """
    return [row.key for row in plan_rows(con, batch, mode, state)]


def plan_rows(
    con: duckdb.DuckDBPyConnection, batch: Sequence[Composed], mode: str, state: str = "planned"
) -> list[Row]:
    """`plan`, returning the rows it recorded as `rows_in` would read them back, each with
    the message this run composed (`Row.raw`), so a run need not read its own rows again.

    In the outbox mode the message itself is not kept: the run that plans it holds it and
    writes it, and the file is the proof; the ledger keeps the file's name (provider_id, what
    a written row records anyway), so a reconcile after a crash finds it, and the Due, so a
    row left waiting is composed again, as of its planned_at, when it leaves (issue 11: the
    message as a BLOB was written twice, to the WAL and at checkpoint, twice the outbox).
    """
    if not batch:
        return []
    keep = mode != "outbox"
    today, now = clock.today(), clock.now()
    con.execute("BEGIN")
    try:
        existing = {
            r[0]
            for r in con.execute(
                "SELECT key FROM messages WHERE key IN (SELECT unnest($1::VARCHAR[]))",
                [[c.email.key for c in batch]],
            ).fetchall()
        }
        fresh = [c for c in batch if c.email.key not in existing] if existing else list(batch)
        rows = [
            Row(
                c.email.key,
                c.due.kind,
                c.due.contact_id,
                c.email.to_addr,
                c.email.subject,
                c.email.message_id,
                state,
                mode,
                c.email.raw,
                c.email.planned_at,
                c.due.for_date,
                today,
                due_to_json(c.due),
                None if keep else file_name(c.email),
            )
            for c in fresh
        ]
        _insert(con, rows, keep, state, mode, today, now)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return rows


# One INSERT for a batch: a column each row has its own value for goes in as one list, the
# values every row shares (state, mode, the day, the time, no attempt yet) as one parameter
# each, not as ten thousand copies for DuckDB to convert (issue 11: 0.14 -> 0.08 s for the
# statement alone; in place, against the key's index and the WAL, the gain is smaller).
# So are for_date and planned_at when every row has the same (a batch shares one planned_at,
# a day's thank-yous one for_date): DuckDB's conversion of ten thousand dates and
# timestamps cost 25 ms.
_INSERT = """
    INSERT INTO messages (key, kind, contact_id, email, subject, message_id, for_date,
        planned_at, due, {varying}, state, mode, planned_on, updated_at, attempts)
    SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::VARCHAR[]),
        unnest($4::VARCHAR[]), unnest($5::VARCHAR[]), unnest($6::VARCHAR[]),
        {for_date}, {planned_at}, unnest($9::VARCHAR[]),
        unnest($10::{kind}[]), $11::VARCHAR, $12::VARCHAR, $13::DATE, $14::TIMESTAMPTZ, 0
"""
_INSERTS = {
    (keep, one_day, one_time): _INSERT.format(
        varying="raw" if keep else "provider_id",  # Gmail: the message; outbox: the file name
        kind="BLOB" if keep else "VARCHAR",
        for_date="$7::DATE" if one_day else "unnest($7::DATE[])",
        planned_at="$8::TIMESTAMPTZ" if one_time else "unnest($8::TIMESTAMPTZ[])",
    )
    for keep in (False, True)
    for one_day in (False, True)
    for one_time in (False, True)
}


def all_alike(values: Sequence[Any]) -> bool:
    """Every value the same, and of one type (a date is not a datetime)."""
    first = values[0]
    kind = type(first)
    return all(v == first and type(v) is kind for v in values)


def _insert(
    con: duckdb.DuckDBPyConnection,
    rows: list[Row],
    keep: bool,
    state: str,
    mode: str,
    today: date,
    now: datetime,
) -> None:
    if not rows:
        return
    columns = list(
        zip(
            *(
                (
                    r.key,
                    r.kind,
                    r.contact_id,
                    r.email,
                    r.subject,
                    r.message_id,
                    r.for_date,
                    r.planned_at,
                    r.due,
                    r.raw if keep else r.file_name,
                )
                for r in rows
            ),
            strict=True,
        )
    )
    params: list[Any] = [*map(list, columns), state, mode, today, now]
    one_day, one_time = all_alike(params[6]), all_alike(params[7])
    if one_day:
        params[6] = params[6][0]
    if one_time:
        params[7] = params[7][0]
    con.execute(_INSERTS[keep, one_day, one_time], params)


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
    # The day it left, or may have: set when it goes `sending` (what the daily cap counts),
    # kept when a later run finds it delivered.
    sending_on: date | None = clock.today() if state == "sending" else None
    delivered_on: date | None = clock.today() if state in DELIVERED else None
    con.execute(
        """
        UPDATE messages SET state = $state, reason = $reason, updated_at = $now,
            delivered_on = coalesce($sending_on, delivered_on, $delivered_on),
            provider_id = coalesce($provider_id, provider_id),
            stored_message_id = coalesce($stored, stored_message_id),
            attempts = attempts + $attempt
        WHERE key IN (SELECT unnest($keys::VARCHAR[]))
        """,
        {
            "state": state,
            "reason": reason,
            "now": clock.now(),
            "sending_on": sending_on,
            "delivered_on": delivered_on,
            "provider_id": delivery.provider_id if delivery else None,
            "stored": delivery.stored_message_id if delivery else None,
            "attempt": 1 if count_attempt else 0,
            "keys": keys,
        },
    )


def rows_in(
    con: duckdb.DuckDBPyConnection,
    states: Sequence[str],
    modes: Sequence[str] | None = None,
    besides: Sequence[str] = (),
) -> list[Row]:
    """The rows in these states (and modes), but those keyed `besides`."""
    query = (
        "SELECT key, kind, contact_id, email, subject, message_id, state, mode, raw, "
        "planned_at, for_date, planned_on, due, "
        "CASE WHEN raw IS NULL AND mode = 'outbox' THEN provider_id END FROM messages "
        "WHERE state IN (SELECT unnest($states::VARCHAR[]))"
    )
    params: dict[str, object] = {"states": list(states)}
    if modes is not None:
        query += " AND mode IN (SELECT unnest($modes::VARCHAR[]))"
        params["modes"] = list(modes)
    if besides:
        query += " AND key NOT IN (SELECT unnest($besides::VARCHAR[]))"
        params["besides"] = list(besides)
    rows = con.execute(query + " ORDER BY planned_at, key", params).fetchall()
    return [
        Row(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            None if r[8] is None else bytes(r[8]),
            r[9],
            r[10],
            r[11],
            r[12],
            r[13],
        )
        for r in rows
    ]


def waiting_moments(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, date | None]]:
    """(key, kind, for_date) of every row waiting to be delivered, in any mode."""
    rows = con.execute(
        "SELECT key, kind, for_date FROM messages WHERE state IN (SELECT unnest($1::VARCHAR[]))",
        [list(WAITING)],
    ).fetchall()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


def recompose(con: duckdb.DuckDBPyConnection, composed: Composed) -> None:
    """A waiting row's message composed again on the day it leaves (same key, Message-ID).
    A row planned without its message (outbox, see plan) stays so, with its new file name."""
    con.execute(
        "UPDATE messages SET email = ?, subject = ?, "
        "raw = CASE WHEN raw IS NULL AND mode = 'outbox' THEN NULL ELSE ? END, "
        "provider_id = CASE WHEN raw IS NULL AND mode = 'outbox' THEN ? ELSE provider_id END, "
        "planned_on = ?, planned_at = ?, "
        "updated_at = ? WHERE key = ? AND state IN ('planned', 'deferred')",
        [
            composed.email.to_addr,
            composed.email.subject,
            composed.email.raw,
            file_name(composed.email),
            clock.today(),
            composed.email.planned_at,
            clock.now(),
            composed.email.key,
        ],
    )


def forget(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> None:
    """Drop rows that certainly never left (planned, deferred), so detection plans them
    afresh: for a row an older version planned without the Due to compose it again."""
    if not keys:
        return
    con.execute(
        "DELETE FROM messages WHERE key IN (SELECT unnest($1::VARCHAR[])) "
        "AND state IN ('planned', 'deferred')",
        [list(keys)],
    )


def delivered_today(con: duckdb.DuckDBPyConnection) -> int:
    """Emails that left today or may have, whatever day they were planned: the daily cap
    counts these (issue 8, defect 4: counting rows planned today let earlier ones through)."""
    row = con.execute(
        "SELECT count(*) FROM messages WHERE delivered_on = ? AND state IN "
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
