"""A re-sync re-judges the conversations sheet only when something it judges has changed
(issue 11, goal 3: a re-sync with 1% of the rows edited).

The set-wise judgement of a staged sheet (validate._staged) is a function of:

- the sheet's judged projection: each non-blank row's number with its contact, date, kind,
  referrals and time cells (a blank row is absent; the topic and notes are never judged,
  only copied from each conversation's first row);
- everyone it is judged against (`StagedRun.people`: ids, addresses, names, and the file and
  row each came from, in order), the slash-date setting, the file's name, where its
  referrals' `seq` starts, and the code that judges.

`key` hashes all of that (the projection by two 64-bit hashes summed over the rows in SQL).
After a load whose identity step changed nothing of what the judgement gave (no id moved, no
row refused, no contact dropped), the stored tables hold that outcome exactly: the
conversations in the order a row-by-row read makes them, the referrals from the sheet past
the contacts sheet's, the contacts it created after everyone else, its rejects as one block
of the rejects table; `remember` keeps the key with where that block is. A later sync whose
key is the same reuses it (`reuse`): the rejects and created contacts are read back, the
conversations and referrals are left in their tables, and the load writes only the topic
and notes that differ from the file (`write_reused`), in place. Anything else (another key,
tables not as remembered, an index on the conversations, identity moving someone now) goes
the way it always went: judged again, or the stored records read back as records.
`tests/test_judged.py` checks it against judging every time over generated edits.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from itertools import starmap
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from breadcrumbs.records import Reject

if TYPE_CHECKING:
    import duckdb

    from breadcrumbs.validate import StagedRun, Validated

# Off: every staged sheet is judged again (the test's reference, and a way out).
ENABLED = True

META = "staged_judgement"  # meta key: the last judgement's key and where its outcome is

# The files whose code decides a judgement: a change to any of them judges again.
_CODE = ("validate.py", "judged.py", "reasons.py", "records.py", "sources/dates.py",
         "sources/staged.py", "sources/headers.py")  # fmt: skip


# What the judgement left in the tables, hashed (the same after a re-sync of the same sheet):
# the conversations but their topic and notes, the sheet's referrals, the rejects block (by
# position: rowids from the table's first, as `write_rejects` keeps them).
_TABLES = """
SELECT (SELECT coalesce(sum(hash(interaction_id, contact_id, date, kind, source_row, "time")
                            ::HUGEINT), 0) FROM interactions),
       (SELECT coalesce(sum(hash(referrer_id, referred_id, interaction_id, seq)::HUGEINT), 0)
        FROM referrals WHERE seq >= $r0),
       (SELECT coalesce(sum(hash(k, file, "row", "column", value, reason, severity)::HUGEINT), 0)
        FROM (SELECT rowid - (SELECT min(rowid) FROM rejects) - $at AS k, * FROM rejects)
        WHERE k >= 0 AND k < $n)
"""


def _tables(con: duckdb.DuckDBPyConnection, r0: int, at: int, n: int) -> list[int]:
    row = con.execute(_TABLES, {"r0": r0, "at": at, "n": n}).fetchone()
    return [int(v) for v in row] if row is not None else []


@lru_cache(maxsize=1)
def _code() -> str:
    import email_validator

    from breadcrumbs import __version__
    from breadcrumbs.store.database import MIGRATIONS, duckdb

    digest = hashlib.sha256(
        f"{__version__}\0{len(MIGRATIONS)}\0{email_validator.__version__}\0"
        f"{getattr(duckdb, '__version__', '')}".encode()
    )
    root = Path(__file__).parent
    for name in _CODE:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def key(con: duckdb.DuckDBPyConnection, out: Validated, run: StagedRun) -> str:
    """What the judgement of this sheet reads, hashed (`_st` must exist)."""
    row = con.execute(
        'SELECT count(*), coalesce(sum(hash(row_no, contact, date, kind, referrals, "time")'
        "::HUGEINT), 0), coalesce(sum(hash('judged', \"time\", referrals, kind, date, contact, "
        "row_no)::HUGEINT), 0) FROM _st"
    ).fetchone()
    digest = hashlib.sha256(
        f"{_code()}\0{run.sheet.file}\0{run.slash_dates}\0{len(out.referrals)}\0{row}\0".encode()
    )
    digest.update(
        "\x1e".join(
            f"{c.contact_id}\x1f{c.email or ''}\x1f{c.name}\x1f{c.source_file}\x1f{c.source_row}"
            for c in run.people.by_id.values()
        ).encode()
    )
    return digest.hexdigest()


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    from breadcrumbs.store.database import get_meta

    try:
        state = json.loads(get_meta(con, META) or "null")
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def reuse(con: duckdb.DuckDBPyConnection, out: Validated, run: StagedRun) -> bool:
    """The last sync's judgement as this one's, if it judged exactly this (`run.key`) and its
    tables are as it left them: its rejects and created contacts put in `out`, `run` marked
    `reused`. False: judge the sheet."""
    state = _state(con) if ENABLED else None
    if state is None or state.get("key") != run.key or out.interactions:
        return False
    try:
        return _reuse(con, out, run, state)
    except (KeyError, TypeError, ValueError):  # a state this code did not write
        return False


def _reuse(
    con: duckdb.DuckDBPyConnection, out: Validated, run: StagedRun, state: dict[str, Any]
) -> bool:
    from breadcrumbs.validate import Contact

    # An update of a column an index covers moves the row: write_reused needs them in place.
    indexed = con.execute(
        "SELECT count(*) FROM duckdb_indexes() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'interactions'"
    ).fetchone()
    people = len(run.people.by_id)
    at, n = int(state["at"]), int(state["n"])
    # The tables as that sync left them (a sync in between by a version of Breadcrumbs that
    # keeps no judgement would leave this one's state behind): as many rows, the same
    # judged columns.
    counts = con.execute(
        "SELECT (SELECT count(*) FROM interactions), "
        "(SELECT count(*) FROM referrals WHERE seq >= $r0), (SELECT count(*) FROM contacts), "
        "(SELECT count(*) FROM rejects)",
        {"r0": len(out.referrals)},
    ).fetchone()
    if (
        indexed is None
        or indexed[0]
        or counts is None
        or tuple(counts[:3])
        != (state["interactions"], state["referrals"], people + state["created"])
        or counts[3] < at + n
        or _tables(con, len(out.referrals), at, n) != state["tables"]
    ):
        return False
    created = [
        Contact(*r)
        for r in con.execute(
            "SELECT contact_id, email, name, first_name, company, title, relationship, phone, "
            "notes, linkedin, connected_on, opt_out, mailable, unmailable_reason, source_file, "
            "source_row FROM contacts ORDER BY rowid LIMIT $n OFFSET $people",
            {"n": state["created"], "people": people},
        ).fetchall()
    ]
    if any(c.contact_id in run.people.by_id for c in created):
        return False
    for contact in created:
        contact.from_reference = True  # made by a referral cell (identity reads it)
    rows = con.execute(
        'SELECT file, "row", "column", value, reason, severity FROM rejects ORDER BY rowid'
    ).fetchall()
    block = list(starmap(Reject, rows[at : at + n]))
    for i, value in state["long"].items():  # the values the table keeps 500 characters of
        block[int(i)].value = value
    texts: dict[str, str] = {}  # one copy of each reason many rows share (memory)
    once = texts.setdefault
    for reject in block:
        reject.reason = once(reject.reason, reject.reason)
    run.stored_rejects = (rows[:at], rows[at + n :])  # what the load compares the rest with
    del rows
    out.rejects[run.reject_at : run.reject_at] = block
    run.merged, run.created, run.rejects = state["merged"], state["created"], n
    run.interactions, run.referrals = state["interactions"], state["referrals"]
    out.merged += run.merged
    out.created += run.created
    out.contacts = [*run.people.by_id.values(), *created]
    run.done = run.reused = True
    return True


def remember(
    con: duckdb.DuckDBPyConnection,
    data: Validated,
    run: StagedRun | None,
    clean: bool,
) -> None:
    """After the load has written every table (its transaction): the key of the judgement
    whose outcome they now hold, or none (`clean` false: identity changed that outcome)."""
    from breadcrumbs.store.database import set_meta

    if run is None or not clean or not run.key or not run.done:
        set_meta(con, META, "")
        return
    block = data.rejects[run.reject_at : run.reject_at + run.rejects]
    state = {
        "key": run.key,
        "tables": _tables(con, len(data.referrals), run.reject_at, run.rejects),
        "at": run.reject_at,
        "n": run.rejects,
        "long": {str(i): r.value for i, r in enumerate(block) if len(r.value) > 500},
        "interactions": run.interactions,
        "referrals": run.referrals,
        "merged": run.merged,
        "created": run.created,
    }
    set_meta(con, META, json.dumps(state))


def write_reused(con: duckdb.DuckDBPyConnection, data: Validated) -> tuple[list[str], bool]:
    """The load of a reused judgement (its transaction): the conversations' topic and notes
    from the file's rows, where they differ, in place; the contacts sheet's referrals
    (`seq` below the sheet's) written again with the sheet's after them if they changed.
    Returns the conversations changed and whether the referrals were."""
    from breadcrumbs.store.database import REFERRAL_COLUMNS, _empty, insert_records

    con.execute(
        """CREATE OR REPLACE TEMP TABLE _st_changed AS
        SELECT i.interaction_id, n.topic, n.notes FROM interactions i
        JOIN (SELECT row_no, coalesce(topic, '') AS topic, coalesce(notes, '') AS notes
              FROM _st) n ON n.row_no = i.source_row
        WHERE i.topic IS DISTINCT FROM n.topic OR i.notes IS DISTINCT FROM n.notes"""
    )
    # No RETURNING: DuckDB makes an UPDATE with one a delete and an insert, which moves the
    # rows to the end of the table (its order is the per-row read's, kept).
    con.execute(
        "UPDATE interactions AS i SET topic = c.topic, notes = c.notes FROM _st_changed c "
        "WHERE i.interaction_id = c.interaction_id"
    )
    changed = [str(r[0]) for r in con.execute("SELECT interaction_id FROM _st_changed").fetchall()]
    con.execute("DROP TABLE _st_changed")
    r0 = len(data.referrals)
    stored = con.execute(
        "SELECT referrer_id, referred_id, interaction_id, seq FROM referrals WHERE seq < $r0 "
        "ORDER BY rowid",
        {"r0": r0},
    ).fetchall()
    if stored == [(r.referrer_id, r.referred_id, r.interaction_id, r.seq) for r in data.referrals]:
        return changed, False
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _st_referrals AS "
        "SELECT * FROM referrals WHERE seq >= $r0 ORDER BY rowid",
        {"r0": r0},
    )
    _empty(con, "referrals")
    insert_records(con, "referrals", REFERRAL_COLUMNS, data.referrals)
    con.execute("INSERT INTO referrals SELECT * FROM _st_referrals")
    con.execute("DROP TABLE _st_referrals")
    return changed, True


def materialize(con: duckdb.DuckDBPyConnection, data: Validated) -> None:
    """A reused judgement's records as Python records (identity moves someone now): the
    stored conversations with the file's topic and notes, the sheet's referrals by seq."""
    from breadcrumbs.validate import Interaction, Referral

    data.interactions.extend(
        Interaction(*r)
        for r in con.execute(
            """SELECT i.interaction_id, i.contact_id, i.date, i.kind,
                      coalesce(n.topic, ''), coalesce(n.notes, ''), i.source_file,
                      i.source_row, i.time
            FROM interactions i LEFT JOIN _st n ON n.row_no = i.source_row ORDER BY i.rowid"""
        ).fetchall()
    )
    data.referrals.extend(
        Referral(*r)
        for r in con.execute(
            "SELECT referrer_id, referred_id, interaction_id, seq FROM referrals "
            "WHERE seq >= $r0 ORDER BY seq",
            {"r0": len(data.referrals)},
        ).fetchall()
    )


# More rejects than this share different from the table's: written again whole.
_MOST = 0.1


def write_rejects(
    con: duckdb.DuckDBPyConnection, data: Validated, run: StagedRun, sync_id: int
) -> int | None:
    """The rejects table made to hold `data.rejects` stamped `sync_id`, in place, when a
    reused judgement's block is where it was and the rows around it are as many as before
    (those that differ are written over, in position; every row's sync stamped): how many
    were written over. None: the caller empties the table and fills it again."""
    before, after = run.stored_rejects
    at, n, new = run.reject_at, run.rejects, data.rejects
    total = len(before) + n + len(after)
    shape = con.execute("SELECT count(*), min(rowid), max(rowid) FROM rejects").fetchone()
    if (
        shape is None
        or len(new) != total
        or at != len(before)
        or shape[0] != total
        or (total and shape[2] - shape[1] + 1 != total)  # positions are rowids from the first
    ):
        return None
    differ = [
        i
        for i, old in [*enumerate(before), *enumerate(after, at + n)]
        if (lambda r: (r.file, r.row, r.column, r.value[:500], r.reason, r.severity))(new[i]) != old
    ]
    if len(differ) > _MOST * total:
        return None
    if differ:
        picked = [new[i] for i in differ]
        con.execute(
            'UPDATE rejects t SET file = c.file, "row" = c."row", "column" = c."column", '
            "value = c.value, reason = c.reason, severity = c.severity "
            "FROM (SELECT unnest($1::BIGINT[]) AS pos, unnest($2::VARCHAR[]) AS file, "
            'unnest($3::INTEGER[]) AS "row", unnest($4::VARCHAR[]) AS "column", '
            "unnest($5::VARCHAR[]) AS value, unnest($6::VARCHAR[]) AS reason, "
            "unnest($7::VARCHAR[]) AS severity) c WHERE t.rowid = c.pos",
            [
                [shape[1] + i for i in differ],
                [r.file for r in picked],
                [r.row for r in picked],
                [r.column for r in picked],
                [r.value[:500] for r in picked],
                [r.reason for r in picked],
                [r.severity for r in picked],
            ],
        )
    con.execute("UPDATE rejects SET sync_id = $1 WHERE sync_id IS DISTINCT FROM $1", [sync_id])
    return len(differ)


def write_contacts(con: duckdb.DuckDBPyConnection, data: Validated) -> bool:
    """The contacts table made to hold `data.contacts` in place, when every row's id is
    where it was and few rows differ (those written over, by position). False: the caller
    empties the table and fills it again."""
    from breadcrumbs.store.database import CONTACT_COLUMNS

    names = [name for name, _ in CONTACT_COLUMNS]
    indexed = con.execute(
        "SELECT count(*) FROM duckdb_indexes() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'contacts'"
    ).fetchone()
    shape = con.execute("SELECT count(*), min(rowid), max(rowid) FROM contacts").fetchone()
    new = data.contacts
    if (
        indexed is None
        or indexed[0]
        or shape is None
        or shape[0] != len(new)
        or (new and shape[2] - shape[1] + 1 != len(new))
    ):
        return False
    listed = ", ".join(f'"{name}"' for name in names)
    rows = con.execute(f"SELECT {listed} FROM contacts ORDER BY rowid").fetchall()
    get = attrgetter(*names)
    differ = [i for i, (c, old) in enumerate(zip(new, rows, strict=True)) if get(c) != old]
    if len(differ) > _MOST * len(new) or any(new[i].contact_id != rows[i][0] for i in differ):
        return False  # many changed, or an id elsewhere: filled again
    if differ:
        picked = [new[i] for i in differ]
        values = [(name, kind) for name, kind in CONTACT_COLUMNS if name != "contact_id"]
        sets = ", ".join(f'"{name}" = c."{name}"' for name, _ in values)
        unnests = ", ".join(
            f'unnest(${k}::{kind}[]) AS "{name}"' for k, (name, kind) in enumerate(values, 2)
        )
        con.execute(
            f"UPDATE contacts t SET {sets} FROM (SELECT unnest($1::BIGINT[]) AS pos, {unnests}) c "
            "WHERE t.rowid = c.pos",
            [[shape[1] + i for i in differ], *([getattr(c, n) for c in picked] for n, _ in values)],
        )
    return True
