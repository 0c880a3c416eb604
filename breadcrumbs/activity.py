"""What a monthly update says alike to every reader: your recent activity, the prospects you
share, and the companies you would love a referral into. SQL over the store, once per batch.

Counts and companies only: never a person's name, never a note (notes are private), and
never a company you marked not to share (`share = no` on any of its prospects), not even as
a place you had a conversation.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from breadcrumbs.detect import ACTIVITY_DAYS

if TYPE_CHECKING:
    import duckdb

# A prospect in one of these stages is over: it is no longer pursued, so never listed.
CLOSED_STAGES = ("rejected", "declined", "closed", "withdrawn")

_HIDDEN = "(SELECT lower(company) FROM prospects WHERE NOT share)"
_OPEN = f"lower(trim(coalesce(stage, ''))) NOT IN {CLOSED_STAGES}"

ACTIVITY_SQL = f"""
WITH recent AS (
    SELECT i.*, c.company FROM interactions i JOIN contacts c USING (contact_id)
    WHERE i.date BETWEEN $since AND $today),
first_talk AS (SELECT contact_id, min(date) AS first FROM interactions GROUP BY contact_id)
SELECT
    (SELECT count(*) FROM recent),
    (SELECT count(*) FROM first_talk WHERE first BETWEEN $since AND $today),
    (SELECT count(*) FROM referrals r JOIN recent USING (interaction_id)),
    (SELECT count(*) FROM recent WHERE lower(kind) = 'interview'),
    (SELECT list(company ORDER BY n DESC, company) FROM (
        SELECT company, count(*) AS n FROM recent
        WHERE coalesce(company, '') <> '' AND lower(company) NOT IN {_HIDDEN}
        GROUP BY company))
"""
PROSPECTS_SQL = f"""
SELECT company, coalesce(role, ''), coalesce(stage, ''), referral_wanted FROM prospects
WHERE share AND {_OPEN} ORDER BY source_row
"""


def shared_context(con: duckdb.DuckDBPyConnection, today: date) -> dict[str, Any]:
    """The template values every reader of this month's update shares."""
    row = con.execute(
        ACTIVITY_SQL, {"since": today - timedelta(days=ACTIVITY_DAYS), "today": today}
    ).fetchone()
    assert row is not None
    prospects = con.execute(PROSPECTS_SQL).fetchall()
    wanted: list[str] = []
    for company, *_, referral in prospects:
        if referral and company not in wanted:
            wanted.append(company)
    return {
        "activity": {
            "days": ACTIVITY_DAYS,
            "conversations": row[0],
            "people_met": row[1],
            "referrals": row[2],
            "interviews": row[3],
            "companies": list(row[4] or [])[:8],
        },
        "prospects": [{"company": p[0], "role": p[1], "stage": p[2]} for p in prospects],
        "referral_companies": wanted,
    }
