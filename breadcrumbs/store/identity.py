"""Who is who: a person keeps one identity when the sheet changes their address or fixes the
spelling of their name (issue #8: keyed by its email alone, a contact whose address changed
was thanked twice for one conversation).

The sheet names people by their cells; the ledger, referrals, opt-outs and touches name them
by a person id that must not move when a cell is edited. A person's id is the id they were
first seen with (`e:<email>` or `n:<folded name>`, as validate makes it), kept for good in
`people` with every address they have had in `addresses`; so the ids and ledger keys of a
workspace made before this module are already person ids. Each sync matches its contacts to
known people, in the load's transaction:

1. by email: a row whose address is a known person's current address is that person;
2. else by name (case, accents and spacing folded), among the people who were in the last
   sync and whom no row matched by email (their address has left the sheet);
3. no candidate: a new person (a row whose email and name both changed is a new person);
4. more than one candidate, or one candidate claimed by more than one row: the row is
   refused with a reject naming them, never guessed; its candidates stay candidates until
   the user says which (by syncing once with the old address back in the row).

Someone only a referral names by an address (no row of their own) is whoever has had that
address: a `referred_by` cell left behind when its referrer's row moved to a new address
still names that person, and never makes a new person who takes their place.

A bounce belongs to an address (`unmailable` is keyed by address), so a new address is
mailable again; an opt-out belongs to the person, so an address new to a person who opted
out is opted out too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from breadcrumbs import clock
from breadcrumbs.reasons import few
from breadcrumbs.records import Reject

if TYPE_CHECKING:  # validate (and email-validator) only when a sync resolves identities:
    import duckdb

    # a follow-up or a digest opens the store through here and validates nothing (issue 11)
    from breadcrumbs.validate import Contact, Interaction, Validated

# Migration 6 (store/database.py). A workspace made before it already keys its ledger by the
# ids its contacts had, so those ids become its people as they are; no ledger key changes.
MIGRATION = r"""
CREATE MACRO person_name_key(name) AS
    strip_accents(lower(nfc_normalize(trim(regexp_replace(name, '\s+', ' ', 'g')))));
CREATE TABLE people (
    person_id VARCHAR PRIMARY KEY, email VARCHAR, name VARCHAR, name_key VARCHAR,
    in_sheet BOOLEAN);
CREATE TABLE addresses (email VARCHAR PRIMARY KEY, person_id VARCHAR);
INSERT INTO people
    SELECT contact_id, lower(email), name, person_name_key(name), true FROM contacts;
-- People the ledger knows who had already left the sheet.
INSERT INTO people
    SELECT contact_id, arg_max(lower(email), planned_at), NULL, NULL, false
    FROM messages WHERE contact_id NOT IN (SELECT person_id FROM people)
    GROUP BY contact_id;
INSERT INTO addresses
    SELECT email, arg_max(person_id, in_sheet) FROM people WHERE email IS NOT NULL
    GROUP BY email;
-- Mail to or from any address a person has had is a touch of that person.
CREATE OR REPLACE VIEW touches AS
    SELECT contact_id, date AS touched_on, 'conversation' AS via FROM interactions
    UNION ALL
    SELECT contact_id, coalesce(delivered_on, planned_on), 'email ' || state
    FROM messages WHERE state IN ('sent', 'drafted', 'written')
    UNION ALL
    SELECT a.contact_id, t.touched_on, 'mailbox ' || t.direction
    FROM mailbox_touches t JOIN (
        SELECT person_id AS contact_id, email FROM addresses
        UNION SELECT contact_id, lower(email) FROM contacts WHERE email IS NOT NULL) a
    ON a.email = t.email;
"""

# Only what differs from validate's ids comes back: most contacts are found at the address
# they were first seen with, and their id is already their person id. A contact that only a
# referral named by its address (`stub`) is no row of the sheet: it is whoever that address
# belongs to, the address an edited row may have left behind.
_MATCH_SQL = """
WITH incoming AS MATERIALIZED (
    SELECT unnest($ids::VARCHAR[]) AS natural_id,
           lower(unnest($emails::VARCHAR[])) AS email,
           person_name_key(unnest($names::VARCHAR[])) AS name_key,
           unnest($stubs::BOOLEAN[]) AS stub),
by_email AS MATERIALIZED (
    SELECT i.natural_id, arg_max(p.person_id, p.in_sheet) AS person_id
    FROM incoming i JOIN people p ON p.email = i.email
    WHERE NOT i.stub
    GROUP BY i.natural_id),
by_name AS MATERIALIZED (
    -- Each side filtered before the join (the same rows: 0.17 CPU-s less at 100k contacts,
    -- whose common names would otherwise join many people first; issue 11).
    SELECT i.natural_id, p.person_id
    FROM (SELECT natural_id, name_key FROM incoming
          WHERE NOT stub AND name_key <> ''
            AND natural_id NOT IN (SELECT natural_id FROM by_email)) i
    JOIN (SELECT person_id, name_key FROM people
          WHERE in_sheet AND person_id NOT IN (SELECT person_id FROM by_email)) p
      ON p.name_key = i.name_key),
by_address AS MATERIALIZED (
    SELECT i.natural_id, a.person_id
    FROM incoming i JOIN addresses a ON a.email = i.email
    WHERE i.stub)
SELECT natural_id, 'found', [person_id] FROM by_email WHERE person_id <> natural_id
UNION ALL
SELECT natural_id, 'found', list(person_id ORDER BY person_id) FROM by_name GROUP BY natural_id
UNION ALL
SELECT natural_id, 'named', [person_id] FROM by_address
UNION ALL
-- New people whose id someone who moved on was first seen with.
SELECT i.natural_id, 'taken', [] FROM incoming i JOIN people p ON p.person_id = i.natural_id
WHERE i.natural_id NOT IN (SELECT natural_id FROM by_email)
  AND i.natural_id NOT IN (SELECT natural_id FROM by_name)
  AND i.natural_id NOT IN (SELECT natural_id FROM by_address)
"""


def resolve_identities(con: duckdb.DuckDBPyConnection, data: Validated) -> list[str]:
    """Give this sync's contacts their person ids, in place, and refuse the ambiguous rows.

    Rewrites `data` (contacts, conversations and referrals carry person ids afterwards) and
    adds a reject for each contact that could be more than one person, and for each of that
    contact's conversations, which are not loaded either. Returns the people those rows may
    be, who stay candidates for the next sync (see `record_identities`).
    """
    contacts = data.contacts
    rows = con.execute(
        _MATCH_SQL,
        {
            "ids": [c.contact_id for c in contacts],
            "emails": [c.email for c in contacts],
            "names": [c.name for c in contacts],
            "stubs": [c.from_reference and c.email is not None for c in contacts],
        },
    ).fetchall()
    found = {str(r[0]): [str(p) for p in r[2]] for r in rows if r[1] == "found"}
    claims = Counter(people[0] for people in found.values() if len(people) == 1)
    moved: dict[str, str] = {}
    refused: dict[str, list[str]] = {}
    for natural_id, people in found.items():
        if len(people) == 1 and claims[people[0]] == 1:
            moved[natural_id] = people[0]
        else:
            refused[natural_id] = people
    moved.update(_new_person_ids(con, [str(r[0]) for r in rows if r[1] == "taken"]))
    named = {str(r[0]): str(r[2][0]) for r in rows if r[1] == "named"}
    in_sheet = {
        moved.get(c.contact_id, c.contact_id)
        for c in contacts
        if c.contact_id not in refused and c.contact_id not in named
    }
    aliases = set()
    for natural_id, person in sorted(named.items()):
        if person in in_sheet:
            aliases.add(natural_id)  # a referral by the old address of someone in the sheet
        in_sheet.add(person)
        moved[natural_id] = person
    if aliases:
        data.contacts = [c for c in data.contacts if c.contact_id not in aliases]
        data.created -= len(aliases)
    rewrite = {old: new for old, new in moved.items() if old != new}
    if data.staged is not None and (refused or rewrite):
        from breadcrumbs.validate import materialize_staged

        materialize_staged(con, data)  # rare: the rewrite below works on records
    if refused:
        _refuse(con, data, refused)
    _rewrite(data, rewrite)
    return sorted({p for people in refused.values() for p in people})


def record_identities(con: duckdb.DuckDBPyConnection, pending: list[str]) -> None:
    """Remember who is in the sheet now and at which address, once `contacts` is loaded."""
    # An opt-out belongs to the person: an address new to someone who opted out is opted out.
    con.execute(
        """
        INSERT INTO opt_outs
        SELECT DISTINCT lower(c.email), $today, 'an earlier address of theirs opted out'
        FROM contacts c
        WHERE c.email IS NOT NULL
          AND lower(c.email) NOT IN (SELECT email FROM addresses WHERE person_id = c.contact_id)
          AND EXISTS (SELECT 1 FROM addresses a JOIN opt_outs o USING (email)
                      WHERE a.person_id = c.contact_id)
        ON CONFLICT DO NOTHING
        """,
        {"today": clock.today()},
    )
    con.execute(
        """
        INSERT INTO people
        SELECT contact_id, lower(email), name, person_name_key(name), true FROM contacts c
        WHERE NOT EXISTS (
            SELECT 1 FROM people p WHERE p.person_id = c.contact_id AND p.in_sheet
              AND p.email IS NOT DISTINCT FROM lower(c.email) AND p.name = c.name)
        ON CONFLICT (person_id) DO UPDATE SET email = excluded.email, name = excluded.name,
            name_key = excluded.name_key, in_sheet = true
        """
    )
    con.execute(
        "UPDATE people SET in_sheet = false WHERE in_sheet "
        "AND person_id NOT IN (SELECT contact_id FROM contacts) "
        "AND person_id NOT IN (SELECT unnest($pending::VARCHAR[]))",
        {"pending": pending},
    )
    con.execute(
        """
        INSERT INTO addresses SELECT lower(email), contact_id FROM contacts c
        WHERE email IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM addresses a WHERE a.email = lower(c.email)
              AND a.person_id = c.contact_id)
        ON CONFLICT (email) DO UPDATE SET person_id = excluded.person_id
        """
    )


def readdress_waiting(con: duckdb.DuckDBPyConnection) -> set[str]:
    """A waiting email follows its person: one planned before their address changed is
    readdressed to the address they have now (which a bounce of the old one never blocks,
    and an opt-out of theirs does). Returns the keys moved: compose them again."""
    moved = con.execute(
        """
        UPDATE messages m SET email = c.email
        FROM contacts c
        WHERE c.contact_id = m.contact_id AND c.email IS NOT NULL AND m.due IS NOT NULL
          AND m.state IN ('planned', 'deferred')
          -- The Due keeps the address it was planned for: a row stays moved, and is composed
          -- again for the new address, whichever run gets to deliver it.
          AND lower(c.email) <> lower(json_extract_string(m.due, '$.email'))
        RETURNING m.key
        """
    ).fetchall()
    return {str(r[0]) for r in moved}


def _new_person_ids(con: duckdb.DuckDBPyConnection, taken: list[str]) -> dict[str, str]:
    """A new person keeps validate's id, unless someone who has moved on was first seen
    with it (their old address, now another person's): then it takes a numbered suffix."""
    if not taken:
        return {}
    used = {
        str(r[0])
        for r in con.execute(
            "SELECT person_id FROM people WHERE contains(person_id, '#')"
        ).fetchall()
    }
    ids = {}
    for natural_id in taken:
        suffix = 2
        while f"{natural_id}#{suffix}" in used:
            suffix += 1
        ids[natural_id] = f"{natural_id}#{suffix}"
        used.add(ids[natural_id])
    return ids


def _refuse(con: duckdb.DuckDBPyConnection, data: Validated, refused: dict[str, list[str]]) -> None:
    """Drop the contacts that could be more than one person, with their conversations."""
    people = {
        str(r[0]): _label(r[1], r[2])
        for r in con.execute(
            "SELECT person_id, name, email FROM people "
            "WHERE person_id IN (SELECT unnest($1::VARCHAR[]))",
            [sorted({p for found in refused.values() for p in found})],
        ).fetchall()
    }
    gone = {c.contact_id: c for c in data.contacts if c.contact_id in refused}
    for contact in gone.values():
        found = refused[contact.contact_id]
        if len(found) > 1:
            why = (
                f"ambiguous person: could be {_or(people[p] for p in found)}, whose addresses "
                "left the sheet since the last sync; to say which, sync once with that "
                "person's old address in this row"
            )
        else:
            others = [
                _row(c)
                for c in gone.values()
                if c is not contact and refused[c.contact_id] == found
            ]
            why = (
                f"ambiguous person: this row and {_or(others)} could each be "
                f"{people[found[0]]}, whose address left the sheet since the last sync; to say "
                "which, sync once with the old address in that person's row"
            )
        data.rejects.append(
            Reject(contact.source_file, contact.source_row, "name", contact.name, why, "row")
        )
    data.contacts = [c for c in data.contacts if c.contact_id not in gone]
    for interaction in data.interactions:
        whose = gone.get(interaction.contact_id)
        if whose is not None:
            data.rejects.append(
                Reject(
                    interaction.source_file,
                    interaction.source_row,
                    "contact",
                    whose.name,
                    f"ambiguous person: its contact was refused ({whose.source_file} row "
                    f"{whose.source_row}): resolve that row first",
                    "row",
                )
            )
    data.interactions = [i for i in data.interactions if i.contact_id not in gone]
    data.referrals = [
        r for r in data.referrals if r.referrer_id not in gone and r.referred_id not in gone
    ]


def _rewrite(data: Validated, moved: dict[str, str]) -> None:
    """Put person ids where validate's ids were; a conversation's id follows its person."""
    from breadcrumbs.validate import interaction_id_of

    if not moved:
        return
    for contact in data.contacts:
        contact.contact_id = moved.get(contact.contact_id, contact.contact_id)
    renamed: dict[str, str] = {}
    kept: dict[str, Interaction] = {}
    for interaction in data.interactions:
        person = moved.get(interaction.contact_id)
        if person is not None:
            old = interaction.interaction_id
            interaction.contact_id = person
            interaction.interaction_id = interaction_id_of(
                person, interaction.date, interaction.kind
            )
            renamed[old] = interaction.interaction_id
        if interaction.interaction_id in kept:
            data.merged += 1  # one talk, logged once by name and once by an old address
            continue
        kept[interaction.interaction_id] = interaction
    data.interactions = list(kept.values())
    for referral in data.referrals:
        referral.referrer_id = moved.get(referral.referrer_id, referral.referrer_id)
        referral.referred_id = moved.get(referral.referred_id, referral.referred_id)
        if referral.interaction_id is not None:
            referral.interaction_id = renamed.get(referral.interaction_id, referral.interaction_id)
    # Someone named by their own old address has not referred themselves.
    data.referrals = [r for r in data.referrals if r.referrer_id != r.referred_id]


def _label(name: object, email: object) -> str:
    return f"{name or 'someone'} <{email}>" if email else f"{name or 'someone'} (no email)"


def _row(contact: Contact) -> str:
    return f"row {contact.source_row} ({_label(contact.name, contact.email)})"


def _or(items: Iterable[str]) -> str:
    return few(items, "or")
