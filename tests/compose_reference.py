"""A varied set of emails, composed, for the byte-for-byte reference (test_compose_reference.py).

`python -m tests.compose_reference OUT.json.gz` writes what the Breadcrumbs on `sys.path`
composes for every case: the raw message, subject, text and HTML parts, the outbox file
name, the ledger's JSON copy of the Due, or the refusal's message. The fixture in
tests/fixtures/compose-reference.json.gz was written by main before compose was made faster
(issue 11), so any change to what an email says, or which email is refused, shows there.

Only public names are used (Composer, file_name, due_to_json), so the same script runs
against an older checkout (`PYTHONPATH=/path/to/old python -m tests.compose_reference`).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from breadcrumbs import clock
from breadcrumbs.compose.message import DEFAULT_TEMPLATES, Composer
from breadcrumbs.deliver.outbox import file_name
from breadcrumbs.errors import TemplateError, UnsafeHeaderError
from breadcrumbs.profile import Etiquette, Me, Profile
from breadcrumbs.records import Due
from breadcrumbs.store.ledger import due_to_json

FIXTURE = Path(__file__).parent / "fixtures" / "compose-reference.json.gz"
TODAY = date(2026, 11, 25)
PLANNED_AT = datetime(2026, 11, 25, 14, 30, 5, tzinfo=UTC)

SAMPLE_ME = Me(
    name="Jordan Rivera",
    email="jordan.rivera@example.com",
    phone="614-555-0100",
    linkedin="https://www.linkedin.com/in/example-jordan-rivera",
    looking_for="a data-platform or analytics-engineering role in Columbus",
    pitch=(
        "I'm a data engineer with eight years of experience, most recently at Hocking Valley "
        "Bank. I build the behind-the-scenes systems that collect a company's data, clean it "
        "up and deliver it, so people can trust their reports and make decisions faster."
    ),
    signature="\nData engineer · SQL, Python, dbt, Airflow\nColumbus, Ohio",
)
SPARSE_ME = Me(name="Sam", email="sam@example.org", looking_for="work.")
INTL_ME = Me(
    name="José Ñúñez-Straße, Jr.",
    email="jose@bücher.example",
    phone="+49 30 1234 5678",
    looking_for="  eine Stelle in Berlin.  ",
    signature="Datenplattform; *Spark* & <SQL>\n\n  Berlin  ",
)

PROFILES = {
    "sample": Profile(me=SAMPLE_ME, etiquette=Etiquette(vcard=True)),
    "sample-novcard": Profile(me=SAMPLE_ME, etiquette=Etiquette(vcard=False)),
    "sparse": Profile(me=SPARSE_ME, etiquette=Etiquette(vcard=True)),
    "intl": Profile(me=INTL_ME, etiquette=Etiquette(vcard=True)),
}

SHARED_FULL: dict[str, Any] = {
    "activity": {
        "days": 30,
        "conversations": 7,
        "people_met": 1,
        "referrals": 3,
        "interviews": 2,
        "companies": ["Acme", "Globex & Sons", "<b>Initech</b>", "Zoë's *Café*"],
    },
    "prospects": [
        {"company": "Acme", "role": "Data Engineer", "stage": "applied"},
        {"company": "Globex", "role": "", "stage": ""},
        {"company": "Umbrella [x](http://evil.example)", "role": "SRE", "stage": "interview"},
    ],
    "referral_companies": ["Acme", "Umbrella"],
}
SHARED_EMPTY: dict[str, Any] = {
    "activity": {
        "days": 30,
        "conversations": 0,
        "people_met": 0,
        "referrals": 0,
        "interviews": 0,
        "companies": [],
    },
    "prospects": [],
    "referral_companies": [],
}
SHARED_ONE: dict[str, Any] = {
    "activity": {
        "days": 30,
        "conversations": 1,
        "people_met": 0,
        "referrals": 1,
        "interviews": 0,
        "companies": ["Solo Inc"],
    },
    "prospects": [{"company": "Acme", "role": "Analyst", "stage": "offer"}],
    "referral_companies": ["Acme", "Globex"],
}

# Names, companies and topics a spreadsheet may hold: plain, international, quoted, markup,
# Markdown, placeholders, header smuggling, long, and nearly empty.
PEOPLE: list[dict[str, Any]] = [
    {"name": "Ann Lee", "first_name": "Ann", "email": "ann@example.com", "company": "Acme"},
    {"name": "Lee, Ann", "first_name": "Ann", "email": "ann.lee@example.com", "company": ""},
    {"name": "Zoë Ñandú", "first_name": "Zoë", "email": "zoe@example.de", "company": "Café AG"},
    {"name": "王芳", "first_name": "芳", "email": "wang@example.cn", "company": "北京数据"},
    {"name": "Jürgen Groß", "first_name": "", "email": "jurgen@straße.de", "company": "Groß"},
    {"name": "Ann Lee (@annlee)", "first_name": "Ann", "email": "a@example.com"},
    {"name": 'Bob "the builder" O\'Neil', "first_name": "Bob", "email": "bob@example.com"},
    {"name": "Back\\slash <Tag>", "first_name": "<b>Hi</b>", "email": "b@example.com"},
    {"name": "*Star* [link](http://evil.example)", "first_name": "_x_", "email": "s@ex.com"},
    {"name": "Eve", "first_name": "Eve", "email": "eve@example.com", "company": "A\nBcc: x@e.e"},
    {"name": "Eve\nBcc: x@evil.example", "first_name": "Eve", "email": "eve2@example.com"},
    {"name": "=?utf-8?q?hi=0ABcc:=20x@evil.example?=", "first_name": "Q", "email": "q@e.com"},
    {"name": "Mallory", "first_name": "Mallory", "email": "m@example.com\r\nBcc: x@evil.e"},
    {"name": "Ann", "first_name": "Ann", "email": "ann@例え.jp", "company": "例え"},
    {"name": "Ünï", "first_name": "Ünï", "email": "ünï@example.com"},
    {"name": "Rtl\u202eevil", "first_name": "R", "email": "r@example.com"},
    {"name": "Tab\tName", "first_name": "T", "email": "t@example.com"},
    {"name": "Line\u2028Sep", "first_name": "L", "email": "l@example.com"},
    {"name": "x" * 120, "first_name": "y" * 210, "email": "long@example.com"},
    {"name": "Dot. Start", "first_name": ".", "email": "dot@example.com", "title": "CTO"},
    {"name": "Émile Zola", "first_name": "Émile " * 20, "email": "emile@exämple.fr"},
    {"name": "  ", "first_name": "", "email": "blank@example.com"},
    {"name": "Curly", "first_name": "{{ me.name }}", "email": "c@example.com"},
    {"name": "Percent", "first_name": "{% if x %}", "email": "p@example.com"},
    {"name": "Equals=Sign", "first_name": "a=b", "email": "eq@example.com", "company": "=3D"},
    {"name": "Emoji 🎉", "first_name": "🎉", "email": "emoji@example.com", "company": "🚀 Inc"},
]
TOPICS = [
    "your team's move to the cloud",
    "",
    "*bold* and `code` and <script>alert(1)</script> & [a](http://x.example)",
    "Ünïcödé topics — with dashes… and “quotes”",
    "a topic that goes on " + "and on " * 40,
    "line one\nline two",
    "trailing spaces   ",
    "# heading\n- list item\n> quote",
    "{{ contact.email }}",
    "tab\tseparated",
    "\n",
    "\u3000",
    "  ",
]
KINDS = ["coffee", "call", "video", "meeting", "interview", "event", "email", "Coffee", "lunch", ""]
DAYS = [date(2026, 11, 25), date(2026, 11, 24), date(2026, 11, 21), date(2026, 11, 10), None]
REFERRALS: list[tuple[str, ...]] = [
    (),
    ("Bob Stone",),
    ("Bob Stone", "Carol <Danvers>"),
    ("Bob", "*Carol*", "Dan, Jr.", "Zoë"),
    ("",),
]


def dues() -> Iterator[Due]:
    for i, person in enumerate(PEOPLE):
        base = {
            "contact_id": f"e:{i}",
            "company": "",
            "title": "",
            **person,
        }
        yield Due(
            key=f"thank-you:i:{i}",
            kind="thank-you",
            for_date=DAYS[i % len(DAYS)],
            conversation_kind=KINDS[i % len(KINDS)],
            topic=TOPICS[i % len(TOPICS)],
            referrals=REFERRALS[i % len(REFERRALS)],
            reason="met yesterday",
            **base,
        )
        yield Due(
            key=f"intro:e:{i}",
            kind="intro",
            referrer_name=PEOPLE[(i + 3) % len(PEOPLE)]["name"] if i % 4 else "Ann Lee",
            referrer_first_name="" if i % 3 == 0 else "Ref",
            referrer_company="" if i % 2 else "Referrer & Co <x>",
            **base,
        )
        yield Due(
            key=f"monthly:e:{i}:2026-11",
            kind="monthly",
            for_date=date(2026, 11, 1),
            month="2026-11",
            conversation_kind=KINDS[(i + 1) % len(KINDS)],
            topic=TOPICS[(i + 2) % len(TOPICS)],
            last_talked_on=date(2026, 10, 1 + i % 28),
            referred=(
                ()
                if i % 3 == 0
                else (
                    ("Bob *Stone*", "2026-11-20", ""),
                    ("Carol", "", "2026-11-03"),
                )[: i % 3]
            ),
            **base,
        )
    # Many alike, as the bench's batch: the caches must not mix two people's values up.
    for i in range(40):
        yield Due(
            key=f"thank-you:i:bulk{i}",
            kind="thank-you",
            contact_id=f"e:bulk{i}",
            email=f"person{i}@example.com",
            name=f"First{i} Last{i}",
            first_name=f"First{i}",
            company=f"Company {i % 3}",
            title="Engineer",
            for_date=date(2026, 11, 24),
            conversation_kind="coffee",
            topic="your team's move to the cloud" if i % 5 else "",
        )
    yield Due(
        key="odd:1",
        kind="unknown-kind",
        contact_id="e:x",
        email="x@e.com",
        name="X",
        first_name="X",
    )


def run_cases() -> dict[str, Any]:
    clock.use_timezone("America/New_York")
    out: dict[str, Any] = {}
    for pname, profile in PROFILES.items():
        for mode in ("outbox", "send", "drafts"):
            if pname != "sample" and mode == "drafts":
                continue
            for sname, shared in (
                ("full", SHARED_FULL),
                ("empty", SHARED_EMPTY),
                ("one", SHARED_ONE),
            ):
                if sname != "full" and (pname, mode) != ("sample", "outbox"):
                    continue
                composer = Composer(profile, TODAY, (DEFAULT_TEMPLATES,), mode, shared)
                for due in dues():
                    if sname != "full" and due.kind != "monthly":
                        continue
                    name = f"{pname}/{mode}/{sname}/{due.key}"
                    out[name] = compose_one(composer, due)
    return out


def compose_one(composer: Composer, due: Due) -> dict[str, Any]:
    try:
        composed = composer.compose(due, PLANNED_AT)
    except (TemplateError, UnsafeHeaderError) as exc:
        return {"refused": f"{type(exc).__name__}: {exc}"}
    email = composed.email
    return {
        "raw": email.raw.decode("ascii"),
        "subject": email.subject,
        "to": email.to_addr,
        "message_id": email.message_id,
        "text": composed.text,
        "html": composed.html,
        "file": file_name(email),
        "due": due_to_json(composed.due),
    }


def load(path: Path = FIXTURE) -> dict[str, Any]:
    cases: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return cases


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE
    cases = run_cases()
    data = json.dumps(cases, indent=0, ensure_ascii=False, sort_keys=True).encode("utf-8")
    target.write_bytes(gzip.compress(data, mtime=0))
    refused = sum(1 for c in cases.values() if "refused" in c)
    print(f"{len(cases)} cases ({refused} refused) -> {target}")


if __name__ == "__main__":
    main()
