"""Detect's queries as main ran them before the derived tables (issue 11): the reference
tests/test_detect_equivalence.py holds the faster detect to, list for list, on generated
networks and varied days. A verbatim copy of breadcrumbs/detect.py's queries and the
functions that read their rows at main 3b64556; do not edit it to make a test pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb

from breadcrumbs.detect import Cold, Skipped, _Candidate
from breadcrumbs.profile import Etiquette
from breadcrumbs.records import Due

# The window a monthly update's activity and "what came of a referral" look back over.
ACTIVITY_DAYS = 30

_LIVE = "('planned', 'sending', 'unknown', 'deferred', 'sent', 'drafted', 'written')"

# Shared columns: who the contact is and every fact the etiquette rules need.
_CONTACT = f"""
    c.contact_id, c.email, c.name, c.first_name, c.company, c.title, c.mailable,
    c.unmailable_reason, c.opt_out OR EXISTS (
        SELECT 1 FROM opt_outs o WHERE o.email = lower(c.email)) AS opted_out,
    (SELECT u.reason FROM unmailable u WHERE u.email = lower(c.email)) AS bounced,
    greatest(
        (SELECT max(m.planned_on) FROM messages m WHERE m.state IN {_LIVE}
            AND m.contact_id = c.contact_id),
        (SELECT max(m.planned_on) FROM messages m WHERE m.state IN {_LIVE}
            AND lower(m.email) = lower(c.email))) AS last_email_on
"""

# Each OR of two join keys is split in two (`NOT (a OR b)` = `NOT a AND NOT b`) so DuckDB
# joins on equality by hash instead of testing every pair of rows.
THANK_YOU_SQL = f"""
WITH thanked AS (
    -- Thank-yous already planned or sent; `orphan` when the row they thanked left the sheet.
    SELECT contact_id, lower(email) AS email, for_date,
           key NOT IN (SELECT 'thank-you:' || interaction_id FROM interactions) AS orphan
    FROM messages WHERE kind = 'thank-you' AND state <> 'failed'),
named AS (
    -- Only the window's conversations: naming every referral ever made costs more than
    -- the rest of the query.
    SELECT r.interaction_id, list(rc.name ORDER BY r.seq) AS referrals FROM referrals r
    JOIN contacts rc ON rc.contact_id = r.referred_id
    WHERE r.interaction_id IN (
        SELECT interaction_id FROM interactions WHERE date BETWEEN $today - $window AND $today)
    GROUP BY r.interaction_id)
SELECT 'thank-you:' || i.interaction_id AS key, {_CONTACT},
       i.date, i.kind, i.topic, n.referrals
FROM interactions i JOIN contacts c USING (contact_id)
LEFT JOIN named n ON n.interaction_id = i.interaction_id
WHERE i.date BETWEEN $today - $window AND $today
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.key = 'thank-you:' || i.interaction_id)
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

INTRO_SQL = f"""
WITH first_referrer AS (
    SELECT referred_id, arg_min(referrer_id, seq) AS referrer_id
    FROM referrals WHERE referrer_id <> referred_id GROUP BY referred_id)
SELECT 'intro:' || c.contact_id AS key, {_CONTACT},
       rr.name AS referrer_name, rr.first_name AS referrer_first_name,
       rr.company AS referrer_company
FROM first_referrer f
JOIN contacts c ON c.contact_id = f.referred_id
JOIN contacts rr ON rr.contact_id = f.referrer_id
WHERE lower(coalesce(c.email, '')) <> lower($me)
  AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.contact_id = c.contact_id)
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.contact_id)
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE lower(m.email) = lower(c.email))
  AND NOT EXISTS (SELECT 1 FROM mailbox_touches t WHERE t.email = lower(c.email))
  AND NOT EXISTS (SELECT 1 FROM mailbox_touches t JOIN addresses a ON a.email = t.email
                  WHERE a.person_id = c.contact_id)
  AND NOT EXISTS (SELECT 1 FROM skips s WHERE s.key = 'intro:' || c.contact_id)
ORDER BY f.referred_id
"""

# Monthly updates (issue #9). $scope: 'first' = the month's first run (everyone with a
# conversation and no row for the month yet), 'listed' = a later run (only those the first run
# listed), 'any' = a preview of one contact ($only). A referred person "came of something"
# when you talked with them, or wrote to them, within the activity window.
MONTHLY_SQL = f"""
WITH last_talk AS (
    SELECT contact_id, max(date) AS date,
           arg_max({{'kind': kind, 'topic': topic}}, (date, source_row)) AS talk
    FROM interactions WHERE date <= $today GROUP BY contact_id),
-- The window's activity, each grouped once by the key a referral joins it on.
talked AS (
    SELECT contact_id, max(date) AS talked_on FROM interactions
    WHERE date BETWEEN $since AND $today GROUP BY contact_id),
delivered AS (
    SELECT contact_id, max(delivered_on) AS wrote_on FROM messages
    WHERE state IN ('sent', 'written') AND delivered_on BETWEEN $since AND $today
    GROUP BY contact_id),
mailed AS (
    SELECT email, max(touched_on) AS wrote_on FROM mailbox_touches
    WHERE direction = 'out' AND touched_on BETWEEN $since AND $today GROUP BY email),
referred AS (
    SELECT r.referrer_id, rc.name, min(r.seq) AS seq, any_value(tk.talked_on) AS talked_on,
           greatest(any_value(d.wrote_on), any_value(ml.wrote_on)) AS wrote_on
    FROM referrals r JOIN contacts rc ON rc.contact_id = r.referred_id
    LEFT JOIN talked tk ON tk.contact_id = r.referred_id
    LEFT JOIN delivered d ON d.contact_id = r.referred_id
    LEFT JOIN mailed ml ON ml.email = lower(rc.email)
    WHERE r.referrer_id <> r.referred_id
    GROUP BY r.referrer_id, r.referred_id, rc.name, rc.email),
came_of AS (
    SELECT referrer_id,
           list({{'name': name, 'talked_on': talked_on, 'wrote_on': wrote_on}} ORDER BY seq)
             AS referred
    FROM referred WHERE talked_on IS NOT NULL OR wrote_on IS NOT NULL GROUP BY referrer_id)
SELECT 'monthly:' || c.contact_id || ':' || $month AS key, {_CONTACT},
       lt.date, lt.talk.kind, lt.talk.topic, t.last_touch, co.referred, m.state
FROM contacts c JOIN last_talk lt USING (contact_id)
LEFT JOIN last_touch t USING (contact_id)
LEFT JOIN came_of co ON co.referrer_id = c.contact_id
LEFT JOIN messages m ON m.key = 'monthly:' || c.contact_id || ':' || $month
WHERE lower(coalesce(c.email, '')) <> lower($me)
  AND CASE $scope WHEN 'first' THEN m.key IS NULL
                  WHEN 'listed' THEN m.state = 'listed'
                  ELSE c.contact_id = $only END
  AND ($scope = 'any' OR NOT EXISTS (
      SELECT 1 FROM skips s WHERE s.key = 'monthly:' || c.contact_id || ':' || $month))
ORDER BY c.source_row, c.contact_id
"""

COLD_SQL = """
SELECT c.contact_id, c.name, c.email, c.phone, c.relationship, t.last_touch
FROM contacts c LEFT JOIN last_touch t USING (contact_id)
WHERE lower(coalesce(c.email, '')) <> lower($me)
  AND (t.last_touch IS NULL OR t.last_touch < $today - $cold)
ORDER BY t.last_touch NULLS FIRST, c.name
"""


def _person(r: tuple[Any, ...]) -> dict[str, Any]:
    """The contact's columns, first in every candidate query (see _CONTACT)."""
    return {
        "contact_id": r[1],
        "email": r[2] or "",
        "name": r[3],
        "first_name": r[4],
        "company": r[5] or "",
        "title": r[6] or "",
    }


def find_candidates(
    con: duckdb.DuckDBPyConnection, today: date, etiquette: Etiquette, me: str
) -> list[_Candidate]:
    """Every email the rules of its kind call for, before etiquette, thank-yous first."""
    out = []
    cursor = con.execute(THANK_YOU_SQL, {"today": today, "window": etiquette.thank_you_days})
    for r in cursor.fetchall():
        due = Due(
            key=r[0],
            kind="thank-you",
            **_person(r),
            for_date=r[12],
            conversation_kind=r[13],
            topic=r[14] or "",
            referrals=tuple(r[15] or ()),
            reason=f"{r[13]} on {r[12]}",
        )
        out.append(_Candidate(due, r[7], r[8], r[9], r[10], r[11]))
    for r in con.execute(INTRO_SQL, {"me": me}).fetchall():
        due = Due(
            key=r[0],
            kind="intro",
            **_person(r),
            referrer_name=r[12],
            referrer_first_name=r[13] or "",
            referrer_company=r[14] or "",
            reason=f"referred by {r[12]}, never contacted",
        )
        out.append(_Candidate(due, r[7], r[8], r[9], r[10], r[11]))
    return out


def find_monthly_candidates(
    con: duckdb.DuckDBPyConnection,
    today: date,
    month: str,
    etiquette: Etiquette,
    me: str,
    scope: str,
    only: str | None = None,
) -> tuple[list[_Candidate], list[Skipped]]:
    """The month's update candidates before etiquette, and those in the quiet period.

    The quiet period is the monthly kind's own rule, like a thank-you's window: someone
    touched (a conversation, an email delivered, mail seen either way) within `quiet_days`
    gets no update. On a later run of the month only those the first run listed are asked
    about, so nobody in the quiet period then is added mid-month.
    """
    first = date.fromisoformat(f"{month}-01")
    quiet_since = today - timedelta(days=etiquette.quiet_days)
    params = {
        "today": today,
        "since": today - timedelta(days=ACTIVITY_DAYS),
        "month": month,
        "me": me,
        "scope": scope,
        "only": only,
    }
    out, quiet = [], []
    for r in con.execute(MONTHLY_SQL, params).fetchall():
        last_touch: date | None = r[15]
        due = Due(
            key=r[0],
            kind="monthly",
            **_person(r),
            for_date=first,
            conversation_kind=r[13] or "",
            topic=r[14] or "",
            month=month,
            last_talked_on=r[12],
            referred=tuple(
                (f["name"], _iso(f["talked_on"]), _iso(f["wrote_on"])) for f in r[16] or ()
            ),
            reason=f"last talked on {r[12]}; last touch {last_touch}",
        )
        if scope == "first" and last_touch is not None and last_touch > quiet_since:
            days = (today - last_touch).days
            ago = "today" if days == 0 else f"{days} day{'' if days == 1 else 's'} ago"
            quiet.append(
                Skipped(
                    due,
                    f"in the {etiquette.quiet_days}-day quiet period on the month's first "
                    f"run (touched {ago}, {last_touch}): no update this month",
                )
            )
            continue
        out.append(_Candidate(due, r[7], r[8], r[9], r[10], r[11]))
    return out, quiet


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def going_cold(
    con: duckdb.DuckDBPyConnection, today: date, etiquette: Etiquette, me: str
) -> list[Cold]:
    """People to call: never contacted yet, or no touch for `cold_days`.

    Opted-out people are on it too: they asked for no email, and a call is how to reach them.
    """
    rows = con.execute(COLD_SQL, {"today": today, "cold": etiquette.cold_days, "me": me})
    return [Cold(r[0], r[1], r[2], r[3] or "", r[4] or "", r[5]) for r in rows.fetchall()]


# Main's etiquette and the digest's listing of a month's readers at 302041d, verbatim but for
# the result's class: main built every `Due` up front (a list of candidates in, lists out);
# detect now keeps fetched rows and builds as read (records.Lazy), held to these lists.
@dataclass
class EagerDetection:
    due: list[Due]
    waiting: list[Skipped]


def room_today(etiquette: Etiquette, left_today: int) -> int:
    return max(etiquette.daily_cap - left_today, 0)


def on_the_list(candidate: _Candidate) -> bool:
    """Mailable: valid, not opted out, not bounced. Only they are listed for a month."""
    c = candidate
    return bool(c.due.email) and c.mailable and not c.opted_out and not c.bounced


def apply_etiquette(
    candidates: list[_Candidate], today: date, etiquette: Etiquette, sent_today: int
) -> EagerDetection:
    """The one place the etiquette rules live: split candidates into due and waiting."""
    due: list[Due] = []
    waiting: list[Skipped] = []
    chosen: set[str] = set()
    gap_start = today - timedelta(days=etiquette.min_gap_days)
    room = room_today(etiquette, sent_today)
    for c in candidates:
        person = c.due.email.lower() or c.due.contact_id
        reason = None
        if not c.due.email:
            reason = "no email address: call them instead"
        elif c.opted_out:
            reason = "opted out"
        elif c.bounced:
            reason = f"address bounced: {c.bounced}"
        elif not c.mailable:
            reason = c.unmailable_reason or "not mailable"
        elif c.last_email_on is not None and c.last_email_on > gap_start:
            reason = (
                f"emailed on {c.last_email_on}: waits {etiquette.min_gap_days} days "
                "between emails to one person"
            )
        elif person in chosen:
            reason = "one email per person at a time: waits for the gap"
        elif len(due) >= room:
            reason = f"daily cap of {etiquette.daily_cap} reached: waits for tomorrow"
        if reason:
            waiting.append(Skipped(c.due, reason))
            continue
        chosen.add(person)
        due.append(c.due)
    return EagerDetection(due, waiting)


def listed_readers(candidates: list[_Candidate]) -> list[Due]:
    """breadcrumbs/digest.py's detect_stage at 302041d: who the month's first run lists."""
    listed, addresses = [], set()
    for c in candidates:
        # Two contacts sharing an address are one reader: one update a month.
        if on_the_list(c) and c.due.email.lower() not in addresses:
            addresses.add(c.due.email.lower())
            listed.append(c.due)
    return listed
