"""What detect reads instead of aggregating every conversation on every run (issue 11).

The sheet-owned tables change only when a sync replaces them, so what detect needs from them
is worked out once, inside the sync's transaction (`refresh`), and kept beside them:

- `contact_facts`: per person, their latest conversation (its date, kind and topic, the
  latest row winning a tie, as `arg_max` over (date, source_row) picks it), whether they
  have any conversation at all, and who first referred them (the referral with the lowest
  `seq`, a self-referral aside).
- `recent_talks`: the conversations dated `RECENT_DAYS` before the latest one or later, with
  the names of the people each referred; `derived_state.recent_talks_since` is the first day
  it covers. Detect uses it for a window (thank-yous, a month's activity) that starts on or
  after that day, and reads `interactions` itself otherwise: whatever day detect runs on,
  the answer is the same, only slower for a window the table does not cover.
- `referral_pairs`: each (referrer, referred) pair once, a self-referral aside, with the
  referred person's name, lower-cased email and first `seq`: what a monthly update's "what
  came of your referrals" groups, so a run groups only the pairs whose person was active.

Everything the database owns beside the sheet (the ledger, opt-outs, bounces, mailbox
touches) changes between syncs, so detect reads those live; they are small next to a
million conversations. The window is anchored on the data, not on the day of the sync, so
syncing the same sheet again, even on another day, changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# How far before the latest conversation `recent_talks` reaches: a 30-day month of activity
# and any thank-you window up to 60 days, run up to a month after the latest conversation.
RECENT_DAYS = 90

# Each table is made again whole (CREATE OR REPLACE: one catalog change, undone with the rest
# of the load by a rollback). Emptying it and inserting again made the commit rewrite a key
# index row by row, as store/database.py's `_empty` says of the sheet tables.
REFRESH = f"""
CREATE OR REPLACE TABLE derived_state AS
    SELECT coalesce(max(date) - {RECENT_DAYS}, DATE '0001-01-01') AS recent_talks_since
    FROM interactions;
CREATE OR REPLACE TABLE contact_facts AS
WITH talks AS (
    SELECT contact_id, max(date) AS last_talk_on,
           arg_max({{'kind': kind, 'topic': topic}}, (date, source_row))
             FILTER (WHERE date IS NOT NULL) AS talk
    FROM interactions GROUP BY contact_id),
firsts AS (
    SELECT referred_id, arg_min(referrer_id, seq) AS referrer_id
    FROM referrals WHERE referrer_id <> referred_id GROUP BY referred_id)
SELECT c.contact_id, t.contact_id IS NOT NULL AS talked, t.last_talk_on,
       t.talk.kind AS last_kind, t.talk.topic AS last_topic, f.referrer_id AS first_referrer_id
FROM contacts c LEFT JOIN talks t USING (contact_id)
LEFT JOIN firsts f ON f.referred_id = c.contact_id;
CREATE OR REPLACE TABLE recent_talks AS
WITH recent AS (
    SELECT interaction_id, contact_id, date, kind, topic, time, source_row FROM interactions
    WHERE date >= (SELECT recent_talks_since FROM derived_state)),
named AS (
    SELECT r.interaction_id, list(rc.name ORDER BY r.seq) AS referrals FROM referrals r
    JOIN contacts rc ON rc.contact_id = r.referred_id
    WHERE r.interaction_id IN (SELECT interaction_id FROM recent)
    GROUP BY r.interaction_id)
SELECT i.*, n.referrals FROM recent i LEFT JOIN named n USING (interaction_id);
CREATE OR REPLACE TABLE referral_pairs AS
-- Grouped on the two ids alone, then named (a contact has one name and address): the same
-- rows as grouping on the name and address too, 0.15 CPU-s less at 630,000 referrals.
SELECT p.referrer_id, p.referred_id, rc.name, lower(rc.email) AS email, p.seq
FROM (SELECT referrer_id, referred_id, min(seq) AS seq FROM referrals
      WHERE referrer_id <> referred_id GROUP BY referrer_id, referred_id) p
JOIN contacts rc ON rc.contact_id = p.referred_id;
"""

# The migration makes the tables from what an earlier sync loaded.
MIGRATION = REFRESH


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Work the derived tables out again from the sheet-owned ones (the caller's transaction)."""
    con.execute(REFRESH)


def recent_since(con: duckdb.DuckDBPyConnection) -> date | None:
    """The first day `recent_talks` covers, or None when nothing was derived yet."""
    row = con.execute("SELECT recent_talks_since FROM derived_state").fetchone()
    return None if row is None else row[0]


def talks_from(con: duckdb.DuckDBPyConnection, first_day: date) -> str:
    """The table holding every conversation dated `first_day` or later: `recent_talks`
    when its window covers that day, else `interactions` itself."""
    since = recent_since(con)
    return "recent_talks" if since is not None and first_day >= since else "interactions"


# What a re-sync that reused its judgement (judged.py) may leave to `refresh_topics`: the
# tables `REFRESH` makes, as written here. A table added to it turns the shortcut off (every
# table made again) until `refresh_topics` learns what it reads.
_KNOWN = {"derived_state", "contact_facts", "recent_talks", "referral_pairs"}
_KNOWN_REFRESH = set(re.findall(r"CREATE OR REPLACE TABLE (\w+)", REFRESH)) == _KNOWN


def known() -> bool:
    return _KNOWN_REFRESH


_CONTACT_TALKS_OF = """
UPDATE contact_facts cf SET last_kind = n.talk.kind, last_topic = n.talk.topic
FROM (
    SELECT contact_id,
           arg_max({'kind': kind, 'topic': topic}, (date, source_row))
             FILTER (WHERE date IS NOT NULL) AS talk
    FROM interactions
    WHERE contact_id IN (SELECT contact_id FROM interactions
                         WHERE interaction_id IN (SELECT unnest($ids::VARCHAR[])))
    GROUP BY contact_id) n
WHERE cf.contact_id = n.contact_id
"""

_RECENT_TOPICS_OF = """
UPDATE recent_talks r SET topic = i.topic
FROM interactions i
WHERE r.interaction_id = i.interaction_id AND i.interaction_id IN (SELECT unnest($ids::VARCHAR[]))
"""


def refresh_topics(con: duckdb.DuckDBPyConnection, interaction_ids: Sequence[str]) -> None:
    """After a load that changed only these conversations' topic or notes (nothing else of
    any sheet table): the derived rows that show a topic, worked out again in place (the
    notes no derived table reads)."""
    if interaction_ids:
        ids = {"ids": list(interaction_ids)}
        con.execute(_CONTACT_TALKS_OF, ids)
        con.execute(_RECENT_TOPICS_OF, ids)
