"""The networking funnel: the job seeker's dashboard of the method, in SQL over the store.

People listed → contacted → conversations → referrals gained per conversation (the seed's
aim is two or three names from every conversation) → intros sent and how many became
conversations → replies; thank-yous on time and missed; the longest trail of referrals.
`breadcrumbs stats` prints it and both flows leave it as an artifact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from breadcrumbs.store.roster import month_start

if TYPE_CHECKING:
    import duckdb

_DELIVERED = "('sent', 'drafted', 'written')"

FUNNEL_SQL = f"""
WITH thanked AS (
    -- Only conversations whose window was still open once Breadcrumbs was in use can be
    -- missed: a talk from before the first sync was never its to thank.
    SELECT i.interaction_id, i.date, m.state, m.delivered_on
    FROM interactions i
    LEFT JOIN messages m ON m.key = 'thank-you:' || i.interaction_id
    WHERE i.date + $window >= (SELECT coalesce(min(synced_on), $today) FROM syncs))
SELECT
    (SELECT count(*) FROM contacts WHERE lower(coalesce(email, '')) <> lower($me)),
    (SELECT count(DISTINCT contact_id) FROM (
        SELECT contact_id FROM interactions
        UNION ALL SELECT contact_id FROM messages WHERE state IN ('sent', 'written')
        UNION ALL SELECT c.contact_id FROM mailbox_touches t
            JOIN contacts c ON lower(c.email) = t.email WHERE t.direction = 'out')),
    (SELECT count(*) FROM interactions WHERE date BETWEEN $first AND $last),
    (SELECT count(*) FROM interactions),
    (SELECT count(*) FROM referrals r JOIN interactions i USING (interaction_id)
        WHERE i.date BETWEEN $first AND $last),
    (SELECT count(*) FROM referrals),
    (SELECT count(*) FROM messages WHERE kind = 'intro' AND state IN {_DELIVERED}),
    (SELECT count(*) FROM messages m WHERE kind = 'intro' AND state IN {_DELIVERED}
        AND EXISTS (SELECT 1 FROM interactions i WHERE i.contact_id = m.contact_id
                    AND i.date >= m.delivered_on)),
    (SELECT count(DISTINCT t.email) FROM mailbox_touches t WHERE t.direction = 'in'
        AND EXISTS (SELECT 1 FROM messages m WHERE lower(m.email) = t.email
                    AND m.state IN {_DELIVERED} AND t.touched_on >= m.delivered_on)),
    (SELECT count(*) FROM thanked WHERE state IN {_DELIVERED}
        AND delivered_on <= date + $window),
    (SELECT count(*) FROM thanked WHERE date + $window < $today
        AND state IS NOT NULL AND NOT (state IN {_DELIVERED} AND delivered_on <= date + $window)),
    (SELECT count(*) FROM thanked WHERE date + $window < $today AND state IS NULL),
    (SELECT count(*) FROM messages WHERE kind = 'monthly' AND for_date = $first
        AND state IN {_DELIVERED})
"""

# The longest chain of "who referred whom", each person following their first referrer.
TRAIL_SQL = """
WITH RECURSIVE first_referrer AS (
    SELECT referred_id, arg_min(referrer_id, seq) AS referrer_id
    FROM referrals WHERE referrer_id <> referred_id GROUP BY referred_id),
walk(contact_id, path) AS (
    SELECT DISTINCT referrer_id, [referrer_id] FROM first_referrer
    WHERE referrer_id NOT IN (SELECT referred_id FROM first_referrer)
    UNION ALL
    SELECT f.referred_id, list_append(w.path, f.referred_id)
    FROM walk w JOIN first_referrer f ON f.referrer_id = w.contact_id
    WHERE NOT list_contains(w.path, f.referred_id) AND len(w.path) < 1000)
SELECT list(coalesce(c.name, p.id) ORDER BY p.pos)
FROM (SELECT path FROM walk ORDER BY len(path) DESC, path[1] LIMIT 1) w,
     unnest(w.path) WITH ORDINALITY AS p(id, pos)
LEFT JOIN contacts c ON c.contact_id = p.id
"""


@dataclass
class Funnel:
    month: str
    people_listed: int
    contacted: int
    conversations_this_month: int
    conversations_in_all: int
    referrals_this_month: int
    referrals_in_all: int
    intros_sent: int
    intros_became_conversations: int
    replies: int
    thank_yous_on_time: int
    thank_yous_missed_withdrawn: int  # written but not delivered in its window
    thank_yous_missed_never_written: int
    monthly_updates_delivered: int
    longest_trail: list[str] = field(default_factory=list)

    @property
    def referrals_per_conversation(self) -> float:
        return self.referrals_in_all / self.conversations_in_all if self.conversations_in_all else 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "referrals_per_conversation": round(self.referrals_per_conversation, 2)
        }


def read_funnel(
    con: duckdb.DuckDBPyConnection, month: str, today: date, me: str, thank_you_days: int
) -> Funnel:
    first = month_start(month)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    row = con.execute(
        FUNNEL_SQL,
        {
            "me": me,
            "first": first,
            "last": last,
            "today": today,
            "window": thank_you_days,
        },
    ).fetchone()
    assert row is not None
    names = [f.name for f in fields(Funnel)][1:-1]  # the counts, in the query's order
    trail = con.execute(TRAIL_SQL).fetchone()
    return Funnel(
        month,
        **{name: int(value) for name, value in zip(names, row, strict=True)},
        longest_trail=[str(name) for name in (trail[0] if trail else None) or []],
    )


def funnel_markdown(f: Funnel) -> str:
    """The funnel as a person reads it in the Prefect UI (or `breadcrumbs stats`)."""
    ratio = f.referrals_per_conversation
    aim = "on the method's aim" if ratio >= 2 else "the method aims for 2 or 3"
    missed = f.thank_yous_missed_withdrawn + f.thank_yous_missed_never_written
    became = f" ({f.intros_became_conversations * 100 // f.intros_sent}%)" if f.intros_sent else ""
    trail = " → ".join(f.longest_trail) if f.longest_trail else "no referrals yet"
    return "\n".join(
        [
            f"# Your networking funnel, {f.month}",
            "",
            f"- **{f.people_listed}** people listed, **{f.contacted}** contacted at least once",
            f"- **{f.conversations_this_month}** conversations this month, "
            f"**{f.conversations_in_all}** in all",
            f"- **{ratio:.1f}** referrals gained per conversation ({f.referrals_in_all} in all, "
            f"{f.referrals_this_month} this month): {aim}",
            f"- **{f.intros_sent}** intros sent, **{f.intros_became_conversations}** became "
            f"conversations{became}",
            f"- **{f.replies}** people replied to an email",
            f"- **{f.thank_yous_on_time}** thank-yous sent within their window, **{missed}** "
            f"missed ({f.thank_yous_missed_withdrawn} not delivered in time, "
            f"{f.thank_yous_missed_never_written} never written)",
            f"- **{f.monthly_updates_delivered}** monthly updates delivered this month",
            f"- The longest trail ({max(len(f.longest_trail) - 1, 0)} referrals): {trail}",
        ]
    )
