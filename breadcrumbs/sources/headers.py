"""Which column is which: header aliases and the exports people really have.

Headers are compared after folding case, spacing and punctuation ("E-mail 1 - Value" and
"e_mail_1_value" are the same). The three contact exports are recognised by their signature
headers and mapped exactly, because their generic reading would be wrong: Outlook's `Title`
is an honorific ("Dr."), its job is in `Job Title`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

TABLES = ("contacts", "interactions", "prospects")

# Canonical column -> aliases in order of preference; a later alias only fills what an
# earlier one left empty (Outlook's "E-mail 2 Address" backs up "E-mail Address").
GENERIC: dict[str, dict[str, list[str]]] = {
    "contacts": {
        "email": [
            "email",
            "e_mail",
            "email_address",
            "e_mail_address",
            "mail",
            "primary_email",
            "work_email",
            "email_1",
            "e_mail_1_value",
        ],
        "name": ["name", "full_name", "display_name", "contact", "contact_name", "person"],
        "first_name": ["first_name", "first", "given_name", "firstname", "forename"],
        "middle_name": ["middle_name", "additional_name"],
        "last_name": ["last_name", "last", "surname", "family_name", "lastname"],
        "company": [
            "company",
            "organization",
            "organisation",
            "organization_name",
            "employer",
            "org",
            "company_name",
        ],
        "title": ["title", "job_title", "position", "role", "organization_title"],
        "relationship": [
            "relationship",
            "circle",
            "how_we_know",
            "how_i_know_them",
            "how_we_met",
            "group",
            "category",
            "connection",
        ],
        "referred_by": [
            "referred_by",
            "referrer",
            "introduced_by",
            "referral_from",
            "referred_from",
        ],
        "phone": [
            "phone",
            "phone_number",
            "mobile",
            "mobile_phone",
            "cell",
            "telephone",
            "work_phone",
            "business_phone",
            "home_phone",
        ],
        "notes": ["notes", "note", "comments", "comment"],
        "opt_out": ["opt_out", "optout", "opted_out", "unsubscribed", "do_not_email", "no_email"],
        "linkedin": ["linkedin", "linkedin_url", "profile_url", "url"],
        "connected_on": ["connected_on", "met_on", "since"],
    },
    "interactions": {
        "date": ["date", "when", "on", "day", "meeting_date", "date_of_contact"],
        "contact": [
            "contact",
            "person",
            "who",
            "with",
            "name",
            "email",
            "contact_email",
            "contact_name",
        ],
        "time": ["time", "start_time", "meeting_time", "time_of_day", "at_time"],
        "kind": ["kind", "type", "how", "channel", "medium", "interaction"],
        "topic": ["topic", "subject", "about", "discussed", "what_we_discussed"],
        "notes": ["notes", "note", "private_notes", "comments"],
        "referrals": [
            "referrals",
            "referred",
            "suggested",
            "recommended",
            "who_else",
            "introductions",
            "referred_to",
            "suggested_contacts",
        ],
    },
    "prospects": {
        "company": ["company", "organization", "organisation", "employer", "company_name"],
        "role": ["role", "position", "title", "job_title", "job"],
        "stage": ["stage", "status", "state"],
        "referral_wanted": [
            "referral_wanted",
            "want_referral",
            "wants_referral",
            "referral",
            "need_referral",
            "referral_needed",
        ],
        "share": ["share", "public", "mention", "shareable", "can_share"],
        "notes": ["notes", "note", "comments"],
    },
}

EXPORTS: dict[str, tuple[set[str], dict[str, list[str]]]] = {
    # LinkedIn's Connections.csv (Settings > Data privacy > Get a copy of your data).
    "linkedin": (
        {"first_name", "last_name", "connected_on"},
        {
            "email": ["email_address"],
            "first_name": ["first_name"],
            "last_name": ["last_name"],
            "company": ["company"],
            "title": ["position"],
            "linkedin": ["url"],
            "connected_on": ["connected_on"],
        },
    ),
    # Google Contacts "Google CSV", current and legacy header sets.
    "google": (
        {"e_mail_1_value"},
        {
            "email": ["e_mail_1_value", "e_mail_2_value", "e_mail_3_value"],
            "name": ["name"],
            "first_name": ["first_name", "given_name"],
            "middle_name": ["middle_name", "additional_name"],
            "last_name": ["last_name", "family_name"],
            "company": ["organization_name", "organization_1_name"],
            "title": ["organization_title", "organization_1_title"],
            "relationship": ["labels", "group_membership"],
            "phone": ["phone_1_value", "phone_2_value"],
            "notes": ["notes"],
        },
    ),
    # Outlook's CSV export: `Title` is "Mr."/"Dr.", the job is `Job Title`.
    "outlook": (
        {"e_mail_address", "job_title"},
        {
            "email": ["e_mail_address", "e_mail_2_address", "e_mail_3_address"],
            "first_name": ["first_name"],
            "middle_name": ["middle_name"],
            "last_name": ["last_name"],
            "company": ["company"],
            "title": ["job_title"],
            "relationship": ["categories"],
            "phone": ["mobile_phone", "business_phone", "home_phone", "primary_phone"],
            "notes": ["notes"],
        },
    ),
}


@dataclass
class Mapping:
    export: str
    columns: dict[int, str]  # header index -> canonical column, in order of preference


def fold(header: object) -> str:
    """'E-mail 1 - Value' -> 'e_mail_1_value'; '\ufeffEmail:' -> 'email'."""
    text = str(header or "").replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def map_headers(table: str, header: Sequence[object]) -> Mapping:
    folded = [fold(h) for h in header]
    present = set(folded)
    export, aliases = "generic", GENERIC[table]
    if table == "contacts":
        for name, (signature, mapping) in EXPORTS.items():
            if signature <= present:
                export, aliases = name, with_generic_fallback(mapping, present)
                break
    columns: dict[int, str] = {}
    for canonical, names in aliases.items():
        for alias in names:
            for index, folded_name in enumerate(folded):
                if folded_name == alias and index not in columns:
                    columns[index] = canonical
    # Insertion order is preference order: for each canonical column its preferred header
    # comes first, so a backup column (E-mail 2) only fills what the first left empty.
    # A sheet with both "name" and "first name" keeps both; validate prefers "name".
    return Mapping(export, columns)


def with_generic_fallback(mapping: dict[str, list[str]], present: set[str]) -> dict[str, list[str]]:
    """An export's own names, plus the generic names for what its headers do not supply.

    A sheet the user made can carry an export's signature by chance (`email, first name,
    last name, connected on` looks like LinkedIn's): its `email` column must still be read.
    A column the export does supply keeps only the export's names, so Outlook's `Title`
    ("Mr.") never stands in for its `Job Title`.
    """
    merged = dict(mapping)
    for canonical, names in GENERIC["contacts"].items():
        if not present.intersection(mapping.get(canonical, ())):
            merged[canonical] = [*mapping.get(canonical, []), *names]
    return merged


def known_headers(table: str) -> set[str]:
    names = {a for aliases in GENERIC[table].values() for a in aliases}
    if table == "contacts":
        for signature, mapping in EXPORTS.values():
            names |= signature | {a for aliases in mapping.values() for a in aliases}
    return names


def find_header_row(records: Sequence[Sequence[object]], table: str) -> int | None:
    """The first of the opening rows that names two known columns (or one, if alone).

    LinkedIn puts a "Notes:" paragraph above its header; other tools add title rows.
    """
    known = known_headers(table)
    lone: int | None = None
    for index, record in enumerate(records[:30]):
        cells = [fold(c) for c in record if c is not None and str(c).strip()]
        hits = sum(1 for c in cells if c in known)
        if hits >= 2:
            return index
        if hits == 1 and len(cells) == 1 and lone is None:
            lone = index
    # A lone known word is a header only when no fuller header follows: LinkedIn's preamble
    # opens with a line "Notes:", which folds to the known column "notes" (issue 2).
    return lone
