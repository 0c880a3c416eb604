"""A seeded, realistic network for the scale bench: circles, referral chains, dates.

Realistic in the ways that cost Breadcrumbs work: people come from circles (co-workers,
school, meetups, referrals...), a referred person names who referred them, and referral
chains run several people deep; conversations name their contact by email, by name or as
`Name <email>`, carry 0-3 referrals, and their dates are written the ways people write them
(mostly ISO, some `11/24/2026`, some `24 Nov 2026`). A few rows are wrong on purpose (a bad
address, no date, an unknown person) so every reject path runs at scale, and a few people
appear twice (merges).

    python -m bench.generate FOLDER [--contacts 100000] [--conversations 1000000] [--xlsx]

The same seed gives the same files; `edited=0.01` changes 1% of the rows of each file
(company, title, topic) and nothing else, for the re-sync bench.
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import date, timedelta
from pathlib import Path

TODAY = date(2026, 11, 25)


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "Ada Alan Amara Ana André Aisha Ben Bea Carlos Chen Chloé Dana Dev Diego Elena Emeka Eva "
    "Farah Felix Grace Hana Hugo Ines Ivan Jamal Jia Jonas Julia Kai Kenji Lara Leila Luca Maya "
    "Mei Mohamed Nadia Noah Nora Olu Omar Paolo Priya Rafael Rosa Ravi Sam Sara Sofia Tariq "
    "Theo Uma Victor Wei Yara Yusuf Zoe Zanele Björn Søren Łucja"
)
LAST = _words(
    "Adams Ahmed Alvarez Andersen Baker Banerjee Becker Chen Costa Cruz Dubois Edwards Eze "
    "Fischer Garcia Gupta Haddad Hansen Ito Jensen Johnson Kaur Kim Kowalski Larsen Lee Lopez "
    "Martin Meyer Mori Müller Nakamura Nguyen Novak Okafor Olsen Patel Perez Petrov Quinn "
    "Rossi Sato Schmidt Silva Singh Smith Suzuki Tanaka Taylor Torres Wagner Walker Wang "
    "Weber Williams Wong Yilmaz Zhang Ødegaard O'Brien"
)
COMPANY_WORDS = _words(
    "Acme Globex Initech Umbrella Stark Wayne Tyrell Cyberdyne Soylent Hooli Vandelay "
    "Pied Wonka Gringotts Aperture Massive Dynamic Prestige Oscorp Nakatomi Blue Sun Zorg "
    "Monarch Ollivander Duff Krusty Virtucon Gekko Bluth Dunder Sterling Cooper Nimbus Quartz"
)
COMPANY_KINDS = ("Labs", "Systems", "Health", "Data", "Cloud", "Logistics", "Bank", "Media")
TITLES = (
    "Engineer",
    "Senior Engineer",
    "Staff Engineer",
    "Engineering Manager",
    "Data Scientist",
    "Product Manager",
    "Designer",
    "Recruiter",
    "Director of Data",
    "VP Engineering",
    "Analyst",
    "Founder",
)
# (circle, weight): who a job seeker knows, roughly as the networking guide lists them.
CIRCLES = (
    ("former co-worker", 30),
    ("school", 14),
    ("friend", 10),
    ("family", 3),
    ("meetup", 12),
    ("referral", 25),
    ("recruiter", 6),
)
KINDS = ("coffee", "call", "video call", "meeting", "lunch", "event", "email")
TOPICS = (
    "your team's move to the cloud",
    "how you got into data engineering",
    "the platform team's hiring plans",
    "what a staff role looks like there",
    "the reorg and what comes next",
    "your start-up's first year",
    "the conference talk on streaming",
    "open roles in analytics",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_DEPTH = 6  # referral chains a few people deep, as a real search has them

CONTACT_HEADER = [
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "relationship",
    "referred_by",
    "phone",
    "opt_out",
    "connected_on",
    "notes",
]
INTERACTION_HEADER = ["date", "contact", "kind", "topic", "notes", "referrals"]


def _ascii(text: str) -> str:
    table = str.maketrans("éäöüøåłßÅØ'", "eaouoalsao-")
    return text.lower().translate(table)


def _written_date(rng: random.Random, day: date) -> str:
    """A date as people type them: mostly ISO, then US slashes, then `24 Nov 2026`."""
    roll = rng.random()
    if roll < 0.90:
        return day.isoformat()
    if roll < 0.95:
        return f"{day.month}/{day.day}/{day.year}"
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def contact_rows(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    companies = [f"{w} {k}" for w in COMPANY_WORDS for k in COMPANY_KINDS]
    circles = [c for c, _ in CIRCLES]
    weights = [w for _, w in CIRCLES]
    depth: list[int] = []
    rows: list[list[str]] = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(companies)
        circle = rng.choices(circles, weights)[0]
        roll = rng.random()
        if roll < 0.02:
            email = ""  # known by name only: loaded, never mailed
        elif roll < 0.023:
            email = f"{_ascii(first)} at {_ascii(last)}.example"  # a reject: invalid email
        elif roll < 0.028 and rows:
            email = rng.choice(rows)[0] or f"{_ascii(first)}{i}@example.org"  # twice: a merge
        else:
            domain = f"{_ascii(company).replace(' ', '')}.example.com"
            if rng.random() < 0.3:
                domain = rng.choice(("gmail.com", "outlook.com", "proton.me", "fastmail.com"))
            email = f"{_ascii(first)}.{_ascii(last)}{i}@{domain}"
        referred_by = ""
        level = 0
        if circle == "referral" and rows:
            # Prefer recent people, so chains form; stop them at MAX_DEPTH.
            j = rng.randrange(max(0, i - 2000), i)
            if depth[j] < MAX_DEPTH:
                level = depth[j] + 1
                ref = rows[j]
                referred_by = ref[0] if ref[0] and "@" in ref[0] else f"{ref[1]} {ref[2]}"
        depth.append(level)
        connected = TODAY - timedelta(days=rng.randrange(0, 3650))
        rows.append(
            [
                email,
                first,
                last,
                company,
                rng.choice(TITLES),
                circle,
                referred_by,
                f"+1 555 {rng.randrange(1000000, 9999999)}" if rng.random() < 0.6 else "",
                "yes" if rng.random() < 0.01 else "",
                connected.isoformat() if rng.random() < 0.4 else "",
                "met at the spring meetup" if rng.random() < 0.1 else "",
            ]
        )
    return rows


def interaction_rows(contacts: list[list[str]], count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed + 1)
    n = len(contacts)
    rows: list[list[str]] = []
    for i in range(count):
        person = contacts[rng.randrange(n)]
        name = f"{person[1]} {person[2]}"
        roll = rng.random()
        if not person[0] or "@" not in person[0] or roll < 0.10:
            who = name
        elif roll < 0.15:
            who = f"{name} <{person[0]}>"
        else:
            who = person[0]
        if rng.random() < 0.0005:
            who = f"Nobody Known{i}"  # a reject: unknown contact
        # Recent weeks are busier than years ago; 1 in 100 in the last three days.
        if rng.random() < 0.01:
            day = TODAY - timedelta(days=rng.randrange(0, 3))
        else:
            day = TODAY - timedelta(days=int(rng.expovariate(1 / 300)) % 1100)
        written = _written_date(rng, day) if rng.random() > 0.0005 else "sometime in spring"
        referrals: list[str] = []
        for _ in range(rng.choices((0, 1, 2, 3), (55, 30, 12, 3))[0]):
            other = contacts[rng.randrange(n)]
            if rng.random() < 0.05:
                referrals.append(f"New Person{i} <new{i}.{len(referrals)}@example.net>")
            elif other[0] and "@" in other[0] and rng.random() < 0.8:
                referrals.append(other[0])
            else:
                referrals.append(f"{other[1]} {other[2]}")
        rows.append(
            [
                written,
                who,
                rng.choice(KINDS),
                rng.choice(TOPICS),
                "private: asked about salary bands" if rng.random() < 0.05 else "",
                "; ".join(referrals),
            ]
        )
    return rows


def edit(rows: list[list[str]], fraction: float, columns: tuple[int, ...], seed: int) -> None:
    """Change `fraction` of the rows in place: a new value in one of `columns`."""
    rng = random.Random(seed + 99)
    for index in rng.sample(range(len(rows)), int(len(rows) * fraction)):
        column = rng.choice(columns)
        rows[index][column] = f"{rows[index][column]} (edited)"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_xlsx(path: Path, sheets: dict[str, tuple[list[str], list[list[str]]]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for title, (header, rows) in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    book.save(path)


def generate(
    folder: Path,
    contacts: int = 100_000,
    conversations: int = 1_000_000,
    seed: int = 7,
    edited: float = 0.0,
    xlsx: bool = False,
) -> Path:
    """Write contacts.csv and interactions.csv (or network.xlsx) into `folder`; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    people = contact_rows(contacts, seed)
    talks = interaction_rows(people, conversations, seed)
    if edited:
        edit(people, edited, (3, 4), seed)
        edit(talks, edited, (3,), seed)
    if xlsx:
        target = folder / "network.xlsx"
        sheets = {"contacts": (CONTACT_HEADER, people)}
        if conversations:
            sheets["interactions"] = (INTERACTION_HEADER, talks)
        write_xlsx(target, sheets)
        return target
    write_csv(folder / "contacts.csv", CONTACT_HEADER, people)
    write_csv(folder / "interactions.csv", INTERACTION_HEADER, talks)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--edited", type=float, default=0.0)
    parser.add_argument("--xlsx", action="store_true")
    args = parser.parse_args()
    print(
        generate(args.folder, args.contacts, args.conversations, args.seed, args.edited, args.xlsx)
    )


if __name__ == "__main__":
    main()
