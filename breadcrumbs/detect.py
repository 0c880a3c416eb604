"""Detect stage: who is due an email now, who must wait and why, and who is going cold.

One SQL query per kind finds the candidates; the etiquette rules are applied in one place
(`apply_etiquette`), the same for every kind: never to an opted-out, bounced or invalid
address, never twice for the same reason, one email per person within `min_gap_days`, and
no more than `daily_cap` a day.
"""

from __future__ import annotations

import itertools
import json
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from breadcrumbs.profile import Etiquette
from breadcrumbs.records import Due, Lazy
from breadcrumbs.store import database, derived

if TYPE_CHECKING:
    import duckdb

# The window a monthly update's activity and "what came of a referral" look back over.
ACTIVITY_DAYS = 30

_LIVE = "('planned', 'sending', 'unknown', 'deferred', 'sent', 'drafted', 'written')"

# Shared columns: who the contact is and every fact the etiquette rules need, from the
# joins in _CONTACT_JOINS (after `contacts c`): each fact grouped once per run and joined by
# equality, not looked up again per candidate by a correlated subquery (a delim join each,
# about 0.2 s of the month's list at 100,000 readers). `unmailable` and `opt_outs` are keyed
# by address, so a join finds at most one row, as the subqueries did.
_FACTS = """
    c.mailable, c.unmailable_reason, c.opt_out OR fo.email IS NOT NULL AS opted_out,
    fu.reason AS bounced, greatest(fl.last_on, fm.last_on) AS last_email_on"""
_CONTACT = f"""
    c.contact_id, c.email, c.name, c.first_name, c.company, c.title, {_FACTS}
"""
_CONTACT_JOINS = f"""
LEFT JOIN opt_outs fo ON fo.email = lower(c.email)
LEFT JOIN unmailable fu ON fu.email = lower(c.email)
LEFT JOIN (SELECT contact_id, max(planned_on) AS last_on FROM messages
           WHERE state IN {_LIVE} GROUP BY contact_id) fl ON fl.contact_id = c.contact_id
LEFT JOIN (SELECT lower(email) AS email, max(planned_on) AS last_on FROM messages
           WHERE state IN {_LIVE} GROUP BY lower(email)) fm ON fm.email = lower(c.email)
"""

# The window's conversations with the names of the people each referred: from the derived
# `recent_talks` when it covers the window (store/derived.py), else from every conversation.
_RECENT_TALKS = """
talks AS (
    SELECT * FROM recent_talks WHERE date BETWEEN $today - $window AND $today)"""
_ALL_TALKS = """
talks AS (
    SELECT i.interaction_id, i.contact_id, i.date, i.kind, i.topic, i.time, i.source_row,
           n.referrals
    FROM interactions i LEFT JOIN (
        -- Only the window's conversations: naming every referral ever made costs more than
        -- the rest of the query.
        SELECT r.interaction_id, list(rc.name ORDER BY r.seq) AS referrals FROM referrals r
        JOIN contacts rc ON rc.contact_id = r.referred_id
        WHERE r.interaction_id IN (
            SELECT interaction_id FROM interactions
            WHERE date BETWEEN $today - $window AND $today)
        GROUP BY r.interaction_id) n USING (interaction_id)
    WHERE i.date BETWEEN $today - $window AND $today)"""

# Each OR of two join keys is split in two (`NOT (a OR b)` = `NOT a AND NOT b`) so DuckDB
# joins on equality by hash instead of testing every pair of rows.
THANK_YOU_SQL = f"""
WITH thanked AS (
    -- Thank-yous already planned or sent; `orphan` when the row they thanked left the sheet
    -- (the key names no conversation: looked up by id, not by building every key).
    SELECT contact_id, lower(email) AS email, for_date,
           NOT (starts_with(key, 'thank-you:') AND EXISTS (
               SELECT 1 FROM interactions x WHERE x.interaction_id = substr(key, 11)))
             AS orphan
    FROM messages WHERE kind = 'thank-you' AND state <> 'failed'),
{{talks}}
SELECT 'thank-you:' || i.interaction_id AS key, {_CONTACT},
       i.date, i.kind, i.topic, i.referrals
FROM talks i JOIN contacts c USING (contact_id)
{_CONTACT_JOINS}
WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.key = 'thank-you:' || i.interaction_id)
  AND NOT EXISTS (SELECT 1 FROM skips s WHERE s.key = 'thank-you:' || i.interaction_id)
  -- The same talk thanked under another key: a row whose date or kind was fixed after its
  -- thank-you went (the thanked row is gone from the sheet, its date within the window of
  -- this one), or the talk entered twice on one day. A second real conversation, whose
  -- first is still in the sheet, gets its own thank-you.
  AND NOT EXISTS (
      SELECT 1 FROM thanked m WHERE m.contact_id = c.contact_id
        AND (m.for_date = i.date OR (abs(m.for_date - i.date) <= $window AND m.orphan)))
  AND NOT EXISTS (
      SELECT 1 FROM thanked m WHERE m.email = lower(c.email)
        AND (m.for_date = i.date OR (abs(m.for_date - i.date) <= $window AND m.orphan)))
  -- The user wrote to them after the conversation themselves: that was the thank-you.
  -- After it on the user's clock: past its time if the sheet gives one, else past 17:00
  -- that day, so "see you at 3" never counts (a touch read before moments were kept
  -- counts from the next day).
  AND NOT EXISTS (
      SELECT 1 FROM mailbox_touches t WHERE t.direction = 'out' AND t.email = lower(c.email)
        AND (t.touched_local > i.date + coalesce(i.time, TIME '17:00')
             OR (t.touched_local IS NULL AND t.touched_on > i.date)))
  AND NOT EXISTS (
      SELECT 1 FROM mailbox_touches t JOIN addresses a ON a.email = t.email
      WHERE t.direction = 'out' AND a.person_id = c.contact_id
        AND (t.touched_local > i.date + coalesce(i.time, TIME '17:00')
             OR (t.touched_local IS NULL AND t.touched_on > i.date)))
ORDER BY i.date DESC, i.source_row
"""

# Who first referred each person, and whether they ever talked with you, are kept by the
# sync (contact_facts): an intro groups no referral and scans no conversation.
INTRO_SQL = f"""
SELECT 'intro:' || c.contact_id AS key, {_CONTACT},
       rr.name AS referrer_name, rr.first_name AS referrer_first_name,
       rr.company AS referrer_company
FROM contact_facts f
JOIN contacts c ON c.contact_id = f.contact_id
JOIN contacts rr ON rr.contact_id = f.first_referrer_id
{_CONTACT_JOINS}
WHERE NOT f.talked
  AND lower(coalesce(c.email, '')) <> lower($me)
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.contact_id)
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE lower(m.email) = lower(c.email))
  AND NOT EXISTS (SELECT 1 FROM mailbox_touches t WHERE t.email = lower(c.email))
  AND NOT EXISTS (SELECT 1 FROM mailbox_touches t JOIN addresses a ON a.email = t.email
                  WHERE a.person_id = c.contact_id)
  AND NOT EXISTS (SELECT 1 FROM skips s WHERE s.key = 'intro:' || c.contact_id)
ORDER BY c.contact_id
"""

# A contact's last touch (the `last_touch` view's answer, store/identity.py's `touches`): their
# latest conversation from contact_facts, emails delivered and mail seen read live.
_LAST_TOUCH = """
touched AS (
    SELECT contact_id, last_talk_on AS touched_on FROM contact_facts
    WHERE last_talk_on IS NOT NULL
    UNION ALL
    SELECT contact_id, coalesce(delivered_on, planned_on) FROM messages
    WHERE state IN ('sent', 'drafted', 'written')
    UNION ALL
    -- Mail to or from any address a person has had (as the `touches` view has it), by
    -- either join on its own: a touch found twice leaves the latest one the same, and the
    -- union of every address (distinct) cost more than the rest of the cold list.
    SELECT a.person_id, t.touched_on
    FROM mailbox_touches t JOIN addresses a ON a.email = t.email
    UNION ALL
    SELECT c.contact_id, t.touched_on
    FROM mailbox_touches t JOIN contacts c ON lower(c.email) = t.email),
last_touch AS (
    SELECT contact_id, max(touched_on) AS last_touch FROM touched GROUP BY contact_id)"""

# What the ledger and the mailbox hold of each person's touches (emails delivered, mail to or
# from any address they have had, as the `touches` view has it): small, read live, grouped
# once. A person's latest conversation, the rest of their last touch, is contact_facts'
# (`greatest` skips a NULL, as `max` does), so no run groups 100,000 people's touches.
_LIVE_TOUCH = """
live_touch AS (
    SELECT contact_id, max(touched_on) AS touched_on FROM (
        SELECT contact_id, coalesce(delivered_on, planned_on) AS touched_on FROM messages
        WHERE state IN ('sent', 'drafted', 'written')
        UNION ALL
        -- By either join on its own: a touch found twice leaves the latest one the same.
        SELECT a.person_id, t.touched_on
        FROM mailbox_touches t JOIN addresses a ON a.email = t.email
        UNION ALL
        SELECT c.contact_id, t.touched_on
        FROM mailbox_touches t JOIN contacts c ON lower(c.email) = t.email)
    GROUP BY contact_id)"""

# Monthly updates (issue #9). $scope: 'first' = the month's first run (everyone with a
# conversation and no row for the month yet), 'listed' = a later run (only those the first run
# listed), 'any' = a preview of one contact ($only). A referred person "came of something"
# when you talked with them, or wrote to them, within the activity window.
# One join of contact_facts gives both the last talk and, with the live touches, the last
# touch; the month's ledger rows and skips are read by the contact their key names (keys
# are `monthly:<contact>:<month>`), not by a key built for each of 100,000 people.
_AHEAD = """
ahead AS (
    -- The latest conversation on or before today of the few people whose latest one
    -- (contact_facts') is dated after today.
    SELECT contact_id, max(date) AS date,
           arg_max({'kind': kind, 'topic': topic}, (date, source_row)) AS talk
    FROM interactions WHERE date <= $today AND contact_id IN (
        SELECT contact_id FROM contact_facts WHERE last_talk_on > $today)
    GROUP BY contact_id)"""
_MONTHLY = f"""
WITH {_AHEAD},
{_LIVE_TOUCH},
month_rows AS (
    SELECT substr(key, 9, length(key) - 9 - length($month)) AS contact_id, state
    FROM messages WHERE starts_with(key, 'monthly:') AND ends_with(key, ':' || $month)),
month_skips AS (
    SELECT substr(key, 9, length(key) - 9 - length($month)) AS contact_id
    FROM skips WHERE starts_with(key, 'monthly:') AND ends_with(key, ':' || $month))
-- The key (monthly:<contact>:<month>) is made when an update is built: not fetched. What
-- an update only shows comes as one text (see _SHOWN), where the etiquette does not read.
SELECT NULL AS key, c.contact_id, c.email, {{shown}} AS shown,
       greatest(f.last_talk_on, t.touched_on) AS last_touch, NULL, NULL, {_FACTS}
FROM contacts c JOIN contact_facts f USING (contact_id)
LEFT JOIN ahead a USING (contact_id)
LEFT JOIN live_touch t USING (contact_id)
LEFT JOIN month_rows m USING (contact_id)
{_CONTACT_JOINS}
WHERE (f.last_talk_on <= $today OR a.contact_id IS NOT NULL)
  AND lower(coalesce(c.email, '')) <> lower($me)
  AND CASE $scope WHEN 'first' THEN m.contact_id IS NULL
                  WHEN 'listed' THEN m.state = 'listed'
                  ELSE c.contact_id = $only END
  AND ($scope = 'any' OR NOT EXISTS (
      SELECT 1 FROM month_skips s WHERE s.contact_id = c.contact_id))
ORDER BY c.source_row, c.contact_id
"""

# A monthly row is (key, id, email, shown, last touch, -, -, the etiquette facts): `shown` is
# what an update shows and nothing reads before it is built (name, first name, company,
# title, the last talk's day, kind and topic), fetched as one text joined by the unit
# separator: one Python string a row instead of seven (0.1 CPU-s of the month's 97,000
# rows at 100,000 people). A sheet may hold that character in a cell, and a name may be
# NULL: then the text could not be split back exactly, which `_packed` sees (every row has
# exactly six separators, none is NULL) and the list is fetched again with the fields apart.
_SEP = "\x1f"
_TALK = "CASE WHEN a.contact_id IS NULL THEN f.last_{0} ELSE a.talk.{0} END"
_SHOWN = (
    "c.name, c.first_name, coalesce(c.company, ''), coalesce(c.title, ''), {day}, "
    f"coalesce({_TALK.format('kind')}, ''), coalesce({_TALK.format('topic')}, '')"
)
_DAY = "coalesce(a.date, f.last_talk_on)"
MONTHLY_SQL = _MONTHLY.replace(
    "{shown}",
    "CASE WHEN c.name IS NOT NULL AND c.first_name IS NOT NULL THEN concat_ws(chr(31), "
    + _SHOWN.format(day=_DAY)
    + ") END",
)
_MONTHLY_APART_SQL = _MONTHLY.replace(
    "{shown}", f"list_value({_SHOWN.format(day=f'CAST({_DAY} AS VARCHAR)')})"
)
# The month's list while the store stays open after detection (`one_opening`: the CLI's
# digest holds it through compose and delivery): the same rows, in the same order, with the
# last talk's day (the reason says it) where `shown` was; what an update only shows, and
# what came of the reader's referrals, are read when updates are built (`_Shown`).
MONTHLY_DECIDE_SQL = _MONTHLY.replace("{shown}", _DAY)
_SHOWN_SQL = f"""
WITH {_AHEAD}
SELECT c.contact_id, c.name, c.first_name, coalesce(c.company, ''), coalesce(c.title, ''),
       coalesce({_TALK.format("kind")}, ''), coalesce({_TALK.format("topic")}, '')
FROM contacts c JOIN contact_facts f USING (contact_id) LEFT JOIN ahead a USING (contact_id)
WHERE {{which}}
"""


def _packed(rows: list[tuple[Any, ...]]) -> bool:
    """Whether every row's `shown` splits back into its seven fields as they were."""
    shown = list(map(itemgetter(3), rows))
    return None not in shown and "".join(shown).count(_SEP) == 6 * len(shown)


# What came of each reader's referrals: the pairs (referral_pairs, one row each) whose person
# was talked with or written to within the window, one JSON text per reader, each entry
# [seq, name, talked on, written to on] (the days as ISO text, "" for none), unordered: the
# entries are put in the order they were referred (seq) when a reader's update is built.
# An ordered aggregate, nested lists, or a row per pair each cost 0.1-0.5 s at 100,000
# readers; a referred name is JSON-quoted, so any character in it comes back as it was.
# One `concat` (a NULL day is "", a day its ISO text) builds an entry: 0.06 s less than
# chaining `||` over 270,000 entries, each link a string of its own.
_DELIVERED = """
    SELECT contact_id, max(delivered_on) AS wrote_on FROM messages
    WHERE state IN ('sent', 'written') AND delivered_on BETWEEN $since AND $today
    GROUP BY contact_id"""
_MAILED = """
    SELECT email, max(touched_on) AS wrote_on FROM mailbox_touches
    WHERE direction = 'out' AND touched_on BETWEEN $since AND $today GROUP BY email"""
_REFERRED = """
WITH talked AS (
    SELECT contact_id, max(date) AS talked_on FROM {talks}
    WHERE date BETWEEN $since AND $today GROUP BY contact_id),
delivered AS ({delivered}),
mailed AS ({mailed}),
referred AS (
    SELECT p.referrer_id, p.name, p.seq, tk.talked_on,
           greatest(d.wrote_on, ml.wrote_on) AS wrote_on
    FROM referral_pairs p
    LEFT JOIN talked tk ON tk.contact_id = p.referred_id
    LEFT JOIN delivered d ON d.contact_id = p.referred_id
    LEFT JOIN mailed ml ON ml.email = p.email
    WHERE {which})
SELECT referrer_id, '[' || string_agg(concat(
    '[', seq, ',', coalesce(to_json(name), 'null'), ',"', talked_on, '","', wrote_on, '"]'),
    ',') || ']'
-- (A pair without a seq made no entry: `||` made it NULL, which string_agg skips.)
FROM referred WHERE (talked_on IS NOT NULL OR wrote_on IS NOT NULL) AND seq IS NOT NULL
GROUP BY referrer_id
"""
REFERRED_SQL = (
    _REFERRED.replace("{delivered}", _DELIVERED)
    .replace("{mailed}", _MAILED)
    .replace("{which}", "($only IS NULL OR p.referrer_id = $only)")
)

COLD_SQL = f"""
WITH {_LAST_TOUCH}
SELECT c.contact_id, c.name, c.email, c.phone, c.relationship, t.last_touch
FROM contacts c LEFT JOIN last_touch t USING (contact_id)
WHERE lower(coalesce(c.email, '')) <> lower($me)
  AND (t.last_touch IS NULL OR t.last_touch < $today - $cold)
ORDER BY t.last_touch NULLS FIRST, c.name
"""


@dataclass(frozen=True)
class Skipped:
    due: Due
    reason: str


@dataclass(frozen=True)
class Cold:
    contact_id: str
    name: str
    email: str | None
    phone: str
    relationship: str
    last_touch: date | None

    def days(self, today: date) -> int | None:
        return None if self.last_touch is None else (today - self.last_touch).days


@dataclass
class Detection:
    """Who is due and who waits, each list built as it is read (records.Lazy)."""

    due: Lazy[Due]
    waiting: Lazy[Skipped]


@dataclass(frozen=True)
class _Candidate:
    due: Due
    mailable: bool
    unmailable_reason: str | None
    opted_out: bool
    bounced: str | None
    last_email_on: date | None


class Candidates(Lazy[_Candidate]):
    """Candidates as fetched: each row begins with the key and _CONTACT's columns (contact
    id and email at 1 and 2, the etiquette facts at 7 to 11), which is all the etiquette
    rules read (`_facts`); a candidate and its `Due` (`make_due`) are built when read."""

    __slots__ = ("make_due",)

    def __init__(self, rows: list[tuple[Any, ...]], make_due: Callable[[Any], Due]) -> None:
        super().__init__(rows, lambda r: _Candidate(make_due(r), r[7], r[8], r[9], r[10], r[11]))
        self.make_due = make_due


def _facts(c: _Candidate) -> tuple[Any, ...]:
    """A built candidate in the layout of a fetched row, as far as the etiquette reads it."""
    d = c.due
    return (d.key, d.contact_id, d.email, None, None, None, None, c.mailable,
            c.unmailable_reason, c.opted_out, c.bounced, c.last_email_on)  # fmt: skip


def _rows(candidates: Sequence[_Candidate]) -> list[tuple[Any, ...]]:
    if isinstance(candidates, Candidates):
        return candidates.rows
    return [_facts(c) for c in candidates]


def _due_of(candidates: Sequence[_Candidate]) -> Callable[[int], Due]:
    """The n-th candidate's `Due`, built from its row alone (not the whole candidate)."""
    if isinstance(candidates, Candidates):
        rows, make_due = candidates.rows, candidates.make_due
        return lambda n: make_due(rows[n])
    return lambda n: candidates[n].due


def _thank_you_or_intro(r: tuple[Any, ...]) -> Due:
    """A thank-you's or an intro's row (THANK_YOU_SQL, INTRO_SQL; the contact's columns
    first, see _CONTACT) as its `Due`."""
    if r[0].startswith("thank-you:"):
        return Due(
            key=r[0],
            kind="thank-you",
            contact_id=r[1],
            email=r[2] or "",
            name=r[3],
            first_name=r[4],
            company=r[5] or "",
            title=r[6] or "",
            for_date=r[12],
            conversation_kind=r[13],
            topic=r[14] or "",
            referrals=tuple(r[15] or ()),
            reason=f"{r[13]} on {r[12]}",
        )
    return Due(
        key=r[0],
        kind="intro",
        contact_id=r[1],
        email=r[2] or "",
        name=r[3],
        first_name=r[4],
        company=r[5] or "",
        title=r[6] or "",
        referrer_name=r[12],
        referrer_first_name=r[13] or "",
        referrer_company=r[14] or "",
        reason=f"referred by {r[12]}, never contacted",
    )


def find_candidates(
    con: duckdb.DuckDBPyConnection, today: date, etiquette: Etiquette, me: str
) -> Candidates:
    """Every email the rules of its kind call for, before etiquette, thank-yous first."""
    window = etiquette.thank_you_days
    recent = derived.talks_from(con, today - timedelta(days=window)) == "recent_talks"
    sql = THANK_YOU_SQL.format(talks=_RECENT_TALKS if recent else _ALL_TALKS)
    rows = con.execute(sql, {"today": today, "window": window}).fetchall()
    rows += con.execute(INTRO_SQL, {"me": me}).fetchall()
    return Candidates(rows, _thank_you_or_intro)


_JSON = json.JSONDecoder()


def _referred(entries: str | None) -> tuple[tuple[str, str, str], ...]:
    """REFERRED_SQL's JSON text for one reader as (name, talked on, written to on), in the
    order the people were referred."""
    if entries is None:
        return ()
    return tuple([(e[1], e[2], e[3]) for e in sorted(_JSON.raw_decode(entries)[0])])


_FIRST_CHUNK = 1024  # updates whose shown fields the first one built reads with it
_names = itertools.count()


class _Shown:
    """What the month's updates only show, read from the store when the first is built,
    while it is held open (store.database.one_opening; issue 11): name, first name,
    company, title, the last talk's kind and topic (`_SHOWN_SQL`), and what came of each
    reader's referrals (REFERRED_SQL). The first update built reads its own and the first
    `_FIRST_CHUNK` of the list's (a run composes the daily cap's worth); the next miss
    reads every reader's. Whatever is unread when the store closes is read then
    (`when_closing`), so the items are the same whenever they are built.

    A referral "came of something" when its person was talked with (the sheet: only a sync
    changes it, and none runs while the store is held) or written to within the window:
    the ledger and mailbox part is copied to two small temporary tables as the month is
    decided, so an update built after delivery says what it would have said before it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, talks: str, params: dict[str, Any]) -> None:
        self.con, self.params = con, params
        self.ids: list[str] = []
        self._shown: dict[str, tuple[Any, ...]] = {}
        self._came_of: dict[str, str] = {}
        self._reads = 0
        self._tables: tuple[str, ...] = ()
        mine = weakref.WeakMethod(self._read_all)  # a list no longer kept is not read
        self.held = database.when_closing(con, lambda: (lambda m: m and m())(mine()))
        if not self.held:
            return
        n = next(_names)
        self._tables = (f"bc_month_delivered_{n}", f"bc_month_mailed_{n}")
        window = {k: params[k] for k in ("since", "today")}
        for table, sql in zip(self._tables, (_DELIVERED, _MAILED), strict=True):
            con.execute(f"CREATE TEMP TABLE {table} AS {sql}", window)
        self._referred = (
            _REFERRED.replace("{delivered}", f"SELECT * FROM {self._tables[0]}")
            .replace("{mailed}", f"SELECT * FROM {self._tables[1]}")
            .replace("{talks}", talks)
        )

    def shown(self, r: tuple[Any, ...]) -> Sequence[Any]:
        """(name, first name, company, title, day, kind, topic) of a decided row (its
        last talk's day is the row's own, r[3])."""
        got = self._shown.get(r[1])
        if got is None:
            self._read(r[1])
            got = self._shown[r[1]]
        return (*got[:4], r[3], *got[4:])

    def came_of(self, contact_id: str) -> str | None:
        if contact_id not in self._shown:
            self._read(contact_id)
        return self._came_of.get(contact_id)

    def _read(self, contact_id: str) -> None:
        if self._reads:
            self._read_all()
            return
        self._reads += 1
        ids = [*self.ids[:_FIRST_CHUNK], contact_id]
        which = "c.contact_id IN (SELECT unnest($ids))"
        self._fetch(which, "p.referrer_id IN (SELECT unnest($ids))", {"ids": ids})

    def _read_all(self) -> None:
        if self._reads > 1:
            return
        self._reads = 2
        self._fetch("true", "true", {})
        for table in self._tables:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")

    def _fetch(self, which: str, whose: str, ids: dict[str, Any]) -> None:
        con = self.con
        today, since = self.params["today"], self.params["since"]
        shown = con.execute(_SHOWN_SQL.replace("{which}", which), {"today": today, **ids})
        for row in shown.fetchall():
            self._shown[row[0]] = row[1:]
        window = {"today": today, "since": since, **ids}
        self._came_of.update(
            con.execute(self._referred.replace("{which}", whose), window).fetchall()
        )


def find_monthly_candidates(
    con: duckdb.DuckDBPyConnection,
    today: date,
    month: str,
    etiquette: Etiquette,
    me: str,
    scope: str,
    only: str | None = None,
) -> tuple[Candidates, Lazy[Skipped]]:
    """The month's update candidates before etiquette, and those in the quiet period.

    The quiet period is the monthly kind's own rule, like a thank-you's window: someone
    touched (a conversation, an email delivered, mail seen either way) within `quiet_days`
    gets no update. On a later run of the month only those the first run listed are asked
    about, so nobody in the quiet period then is added mid-month.
    """
    first = date.fromisoformat(f"{month}-01")
    quiet_since = today - timedelta(days=etiquette.quiet_days)
    since = today - timedelta(days=ACTIVITY_DAYS)
    params = {
        "today": today,
        "since": since,
        "month": month,
        "me": me,
        "scope": scope,
        "only": only,
    }
    talks = derived.talks_from(con, since)
    referred_params = {k: params[k] for k in ("today", "since")}
    referred_params["only"] = only if scope == "any" else None
    monthly_params = {k: params[k] for k in params if k != "since"}
    later = _Shown(con, talks, referred_params)
    if later.held:
        rows = con.execute(MONTHLY_DECIDE_SQL, monthly_params).fetchall()
        later.ids = list(map(itemgetter(1), rows))
        shown_of: Callable[[tuple[Any, ...]], Sequence[Any]] = later.shown
        came_of: Callable[[str], str | None] = later.came_of
    else:
        came_of_all: dict[str, str] = dict(
            con.execute(REFERRED_SQL.format(talks=talks), referred_params).fetchall()
        )
        rows = con.execute(MONTHLY_SQL, monthly_params).fetchall()
        if not _packed(rows):
            rows = con.execute(_MONTHLY_APART_SQL, monthly_params).fetchall()

        def shown_of(r: tuple[Any, ...]) -> Sequence[Any]:
            shown = r[3]
            return shown.split(_SEP) if shown.__class__ is str else shown

        def came_of(contact_id: str) -> str | None:
            return came_of_all.get(contact_id)

    def update(r: tuple[Any, ...]) -> Due:
        name, first_name, company, title, day, kind, topic = shown_of(r)
        return Due(
            key=f"monthly:{r[1]}:{month}",
            kind="monthly",
            contact_id=r[1],
            email=r[2] or "",
            name=name,
            first_name=first_name,
            company=company,
            title=title,
            for_date=first,
            conversation_kind=kind,
            topic=topic,
            month=month,
            last_talked_on=day if day.__class__ is date else date.fromisoformat(day),
            referred=_referred(came_of(r[1])),
            reason=f"last talked on {day}; last touch {r[4]}",
        )

    def in_quiet_period(r: tuple[Any, ...]) -> Skipped:
        last_touch: date = r[4]
        days = (today - last_touch).days
        ago = "today" if days == 0 else f"{days} day{'' if days == 1 else 's'} ago"
        return Skipped(
            update(r),
            f"in the {etiquette.quiet_days}-day quiet period on the month's first "
            f"run (touched {ago}, {last_touch}): no update this month",
        )

    out, quiet = [], []
    for r in rows:
        # r[4]: their last touch (a conversation, an email delivered, mail seen).
        if scope == "first" and r[4] is not None and r[4] > quiet_since:
            quiet.append(r)
        else:
            out.append(r)
    return Candidates(out, update), Lazy(quiet, in_quiet_period)


def _listable(r: tuple[Any, ...]) -> bool:
    return bool(r[2]) and r[7] and not r[9] and not r[10]


def on_the_list(candidate: _Candidate) -> bool:
    """Mailable: valid, not opted out, not bounced. Only they are listed for a month."""
    return _listable(_facts(candidate))


def _listed(rows: list[tuple[Any, ...]]) -> list[int]:
    picked, addresses = [], set()
    for n, r in enumerate(rows):
        if _listable(r) and r[2].lower() not in addresses:
            addresses.add(r[2].lower())
            picked.append(n)
    return picked


def listed_readers(candidates: Sequence[_Candidate]) -> Lazy[Due]:
    """The month's readers among its candidates: those on the list, and one per address
    (two contacts sharing an address are one reader: one update a month)."""
    return Lazy(_listed(_rows(candidates)), _due_of(candidates))


def listed_keys(candidates: Sequence[_Candidate], month: str) -> list[tuple[str, str, str]]:
    """listed_readers' readers as the month's roster records them (key, contact, address),
    read from their rows: no update is built (what it shows may not be read yet)."""
    rows = _rows(candidates)
    return [(f"monthly:{rows[n][1]}:{month}", rows[n][1], rows[n][2] or "") for n in _listed(rows)]


def apply_etiquette(
    candidates: Sequence[_Candidate], today: date, etiquette: Etiquette, sent_today: int
) -> Detection:
    """The one place the etiquette rules live: split candidates into due and waiting.

    The rules read each candidate's facts (`_facts`: a fetched row as it came, or a built
    candidate in that layout); the lists name candidates by position, built when read."""
    due: list[int] = []
    waiting: list[tuple[int, str]] = []
    chosen: set[str] = set()
    gap_start = today - timedelta(days=etiquette.min_gap_days)
    room = room_today(etiquette, sent_today)
    for n, r in enumerate(_rows(candidates)):
        email: str = r[2] or ""
        mailable, unmailable_reason, opted_out, bounced, last_email_on = r[7:12]
        person = email.lower() or r[1]
        reason = None
        if not email:
            reason = "no email address: call them instead"
        elif opted_out:
            reason = "opted out"
        elif bounced:
            reason = f"address bounced: {bounced}"
        elif not mailable:
            reason = unmailable_reason or "not mailable"
        elif last_email_on is not None and last_email_on > gap_start:
            reason = (
                f"emailed on {last_email_on}: waits {etiquette.min_gap_days} days "
                "between emails to one person"
            )
        elif person in chosen:
            reason = "one email per person at a time: waits for the gap"
        elif len(due) >= room:
            reason = f"daily cap of {etiquette.daily_cap} reached: waits for tomorrow"
        if reason:
            waiting.append((n, reason))
            continue
        chosen.add(person)
        due.append(n)
    due_of = _due_of(candidates)
    return Detection(Lazy(due, due_of), Lazy(waiting, lambda w: Skipped(due_of(w[0]), w[1])))


def room_today(etiquette: Etiquette, left_today: int) -> int:
    """How many more emails may leave today: the cap counts what leaves on a day, whatever
    day it was planned (detection plans within it; delivery holds back what would pass it)."""
    return max(etiquette.daily_cap - left_today, 0)


def detect(
    con: duckdb.DuckDBPyConnection, today: date, etiquette: Etiquette, me: str, sent_today: int = 0
) -> Detection:
    return apply_etiquette(find_candidates(con, today, etiquette, me), today, etiquette, sent_today)


def _cold(r: tuple[Any, ...]) -> Cold:
    return Cold(r[0], r[1], r[2], r[3] or "", r[4] or "", r[5])


def going_cold(
    con: duckdb.DuckDBPyConnection, today: date, etiquette: Etiquette, me: str
) -> Lazy[Cold]:
    """People to call: never contacted yet, or no touch for `cold_days`.

    Opted-out people are on it too: they asked for no email, and a call is how to reach them.
    """
    rows = con.execute(COLD_SQL, {"today": today, "cold": etiquette.cold_days, "me": me})
    return Lazy(rows.fetchall(), _cold)


def cold_except(cold: Sequence[Cold], contact_ids: set[str]) -> Sequence[Cold]:
    """Going cold without these people. On the list `going_cold` fetched, the rows are
    filtered on their contact id (a Cold's first column) so only the items read are built
    (issue 11); any other list is filtered item by item."""
    if isinstance(cold, Lazy) and cold.made_by(_cold):
        return Lazy([r for r in cold.rows if r[0] not in contact_ids], _cold)
    return [c for c in cold if c.contact_id not in contact_ids]
