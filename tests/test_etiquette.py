"""The etiquette property (issue 8, "Prove it"): a generated month of a job search, played
day by day through `sync` and `follow-up`, keeps every rule on every day.

Each month is drawn from a seed: conversations (by name or by address), referrals to new
people, edits of rows already thanked (notes, a date typo, the kind), opt-outs in the sheet
and on the command line, bounces read from the (fake) mailbox, and, behind flags, address
changes and deferrals (a day the outbox cannot be written). After each day the ledger and
the outbox must show:

- one thank-you per conversation, inside its moment (from its day to `thank_you_days` after);
- each email dated the day it left;
- one email per person within `min_gap_days`, whatever their address was;
- no more than `daily_cap` emails leaving on one day;
- nothing to a person after they opted out, nor to an address after it bounced;
- nothing delivered under a key that was withdrawn.

`make test` plays one month per variant; `make soak` plays SOAK_MONTHS. Before issue 8's
fixes the deferrals failed (defects 2 and 4: a deferred email left late, dated the day it was
planned, on top of the cap) and so did the address changes (defect 1: the new address was a
new contact, thanked again and mailed within the gap).

The monthly digest runs every weekday after the follow-up, as the `monthly-digest`
deployment does, so its updates meet the same rules, and two more: nobody joins a month's
updates after that month's first run, and no update leaves after its month. To add a kind of
email: give it a moment in MOMENTS, and run its command in `_play_day` on the days it runs;
every other rule already applies to every kind.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.deliver.outbox import file_name
from breadcrumbs.digest import run_digest
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.store.ledger import rows_in
from breadcrumbs.sync import run_sync
from breadcrumbs.workspace import init_workspace
from tests.fake_google import FakeGoogle
from tests.follow_up_support import read_message, sql, write_profile
from tests.google_support import serving

START = date(2026, 11, 2)
DAYS = 30
THANK_YOU_DAYS = 3
MIN_GAP_DAYS = 3
DAILY_CAP = 3
QUIET_DAYS = 7  # short, so that the month played brings monthly updates on Dec 1
KINDS = ["call", "coffee", "meeting", "video", "event"]
DELIVERED = ("written", "sent", "drafted")
SOAKING = "SOAK_MONTHS" in os.environ
MONTHS = int(os.environ.get("SOAK_MONTHS", "1"))


@dataclass(frozen=True)
class Flags:
    address_changes: bool = False
    deferrals: bool = False


@dataclass
class Person:
    name: str
    addresses: list[str]  # every address they had, the current one last ("" for none)
    company: str = ""
    opt_out_cell: str = ""

    @property
    def email(self) -> str:
        return self.addresses[-1]


@dataclass
class Talk:
    person: int
    day: date
    kind: str
    by_address: bool  # the row names the contact by address, else by name
    referrals: list[str] = field(default_factory=list)
    notes: str = ""


@dataclass
class Month:
    """The job search as the user keeps it, and what the rules need to know about it."""

    rng: random.Random
    flags: Flags
    people: list[Person] = field(default_factory=list)
    talks: list[Talk] = field(default_factory=list)
    opted_out: dict[int, date] = field(default_factory=dict)  # person -> from that day
    bounced: dict[str, date] = field(default_factory=dict)  # address -> from that day
    talk_of: dict[str, int] = field(default_factory=dict)  # interaction id -> talk
    withdrawn: set[str] = field(default_factory=set)
    checked: set[str] = field(default_factory=set)  # delivered keys already judged
    changes: int = 0  # address changes made
    unwritable_until: date | None = None  # the outbox cannot be written up to this day
    unwritable_days: int = 0
    rosters: dict[str, set[str]] = field(default_factory=dict)  # month -> its first run's keys

    def person_of(self, address: str) -> int:
        for index, person in enumerate(self.people):
            if address.lower() in (a.lower() for a in person.addresses if a):
                return index
        raise AssertionError(f"an email went to {address}, who is nobody in the sheet")


# ----- what happens on a day ---------------------------------------------------------------


def _new_person(month: Month) -> Person:
    n = len(month.people)
    person = Person(f"Person {n}", [f"p{n}@example.com"], company=f"Co {n % 5}")
    month.people.append(person)
    return person


def _events(month: Month, today: date, offset: int) -> tuple[list[str], bool]:
    """Change the sheet for today; returns (addresses opted out on the command line, whether
    the outbox is unwritable today)."""
    rng = month.rng
    for _ in range(rng.randint(0, 4)):  # yesterday's and today's talks, entered this morning
        who = rng.randrange(len(month.people))
        talk = Talk(
            who,
            today - timedelta(days=rng.choice([0, 1, 1, 2])),
            rng.choice(KINDS),
            by_address=rng.random() < 0.3,
        )
        if _exists(month, talk.person, talk.day, talk.kind):
            continue  # the same talk twice is one talk, and validate merges it so
        if rng.random() < 0.3:
            new = _new_person(month)
            talk.referrals.append(f"{new.name} <{new.email}>" if rng.random() < 0.7 else new.name)
            if not talk.referrals[-1].endswith(">"):
                new.addresses[-1] = ""  # named without an address: no email until they have one
        month.talks.append(talk)
    if month.talks and rng.random() < 0.5:  # an edit of a row, maybe one already thanked
        talk = rng.choice(month.talks)
        change = rng.choice(["notes", "date", "kind"])
        if change == "notes":
            talk.notes = f"edited on {today}"
        elif change == "date" and not _exists(
            month, talk.person, talk.day - timedelta(days=1), talk.kind
        ):
            talk.day -= timedelta(days=1)
        elif change == "kind":
            kind = rng.choice(KINDS)
            if not _exists(month, talk.person, talk.day, kind):
                talk.kind = kind
    cli_opt_outs = []
    if offset in (8, 19):  # someone asks for no more email, in the sheet or by reply
        index = rng.choice(
            [i for i, p in enumerate(month.people) if p.email and i not in month.opted_out]
        )
        month.opted_out[index] = today
        if rng.random() < 0.5:
            month.people[index].opt_out_cell = "yes"
        else:
            cli_opt_outs.append(month.people[index].email)
    if month.flags.address_changes and offset >= 3 and rng.random() < 0.35:
        _change_address(month, today)
    if month.flags.deferrals and offset >= 2 and rng.random() < 0.2:
        # A full disk or a moved folder, for a day or for longer than a thank-you's moment.
        month.unwritable_until = max(
            month.unwritable_until or today, today + timedelta(days=rng.randint(0, 4))
        )
    unwritable = month.unwritable_until is not None and today <= month.unwritable_until
    month.unwritable_days += unwritable
    return cli_opt_outs, unwritable


def _exists(month: Month, person: int, day: date, kind: str) -> bool:
    return any((t.person, t.day, t.kind) == (person, day, kind) for t in month.talks)


def _change_address(month: Month, today: date) -> None:
    """Someone recently thanked moved to a new employer: the user edits their email cell."""
    recent = {t.person for t in month.talks if today - t.day <= timedelta(days=2)}
    candidates = [i for i in recent if month.people[i].email]
    if not candidates:
        return
    person = month.people[month.rng.choice(sorted(candidates))]
    month.changes += 1
    person.addresses.append(f"{person.name.lower().replace(' ', '.')}.{month.changes}@new.example")


def _write_sheet(folder: Path, month: Month) -> None:
    def write(name: str, header: list[str], rows: list[dict[str, str]]) -> None:
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)

    write(
        "contacts.csv",
        ["email", "name", "company", "opt_out"],
        [
            {"email": p.email, "name": p.name, "company": p.company, "opt_out": p.opt_out_cell}
            for p in month.people
        ],
    )
    write(
        "interactions.csv",
        ["date", "contact", "kind", "topic", "notes", "referrals"],
        [
            {
                "date": t.day.isoformat(),
                "contact": (month.people[t.person].email if t.by_address else "")
                or month.people[t.person].name,
                "kind": t.kind,
                "topic": "your work",
                "notes": t.notes,
                "referrals": ";".join(t.referrals),
            }
            for t in month.talks
        ],
    )


# ----- the rules -------------------------------------------------------------------------------

Row = dict[str, Any]


def _thank_you_moment(row: Row, month: Month) -> str | None:
    talk_index = month.talk_of.get(row["key"].removeprefix("thank-you:"))
    if talk_index is None:
        return f"{row['key']} thanks a conversation that was never in the sheet"
    talk = month.talks[talk_index]
    late = (row["delivered_on"] - talk.day).days
    if not 0 <= late <= THANK_YOU_DAYS:
        return f"{row['key']} left on {row['delivered_on']} for a talk on {talk.day}"
    return None


def _monthly_moment(row: Row, month: Month) -> str | None:
    # monthly:<contact>:<YYYY-MM>: an update belongs to its month.
    if row["key"].rsplit(":", 1)[-1] != row["delivered_on"].strftime("%Y-%m"):
        return f"{row['key']} left on {row['delivered_on']}, after its month"
    return None


MOMENTS: dict[str, Callable[[Row, Month], str | None]] = {
    "thank-you": _thank_you_moment,
    "intro": lambda row, month: None,  # an introduction has no moment to miss
    "monthly": _monthly_moment,
}


def _check_day(ws: Workspace, month: Month, today: date) -> None:
    columns = ["key", "kind", "email", "state", "reason", "delivered_on"]
    rows = [
        dict(zip(columns, r, strict=True))
        for r in sql(ws, f"SELECT {', '.join(columns)} FROM messages")
    ]
    for row in rows:
        if row["state"] == "withdrawn" or (row["reason"] or "").startswith("withdrawn"):
            month.withdrawn.add(row["key"])
    delivered = [r for r in rows if r["state"] in DELIVERED]
    with open_store(ws) as con:
        files_of = {r.key: file_name(r.outgoing()) for r in rows_in(con, DELIVERED)}
    files = {p.name for p in ws.outbox.glob("*.eml")} if ws.outbox.is_dir() else set()
    assert files == set(files_of.values()), "outbox and ledger disagree"

    per_day: dict[date, int] = defaultdict(int)
    per_person: dict[int, list[date]] = defaultdict(list)
    per_talk: dict[int, int] = defaultdict(int)
    for row in delivered:
        day, person = row["delivered_on"], month.person_of(row["email"])
        per_day[day] += 1
        per_person[person].append(day)
        if row["kind"] == "thank-you" and row["key"].removeprefix("thank-you:") in month.talk_of:
            per_talk[month.talk_of[row["key"].removeprefix("thank-you:")]] += 1
        if row["key"] in month.checked:
            continue
        month.checked.add(row["key"])
        assert row["key"] not in month.withdrawn, f"{row['key']} was withdrawn, then delivered"
        assert row["kind"] in MOMENTS, f"no moment for kind {row['kind']}: add one to MOMENTS"
        problem = MOMENTS[row["kind"]](row, month)
        assert problem is None, problem
        sent_on = parsedate_to_datetime(read_message(ws.outbox / files_of[row["key"]])["Date"])
        assert sent_on.astimezone(UTC).date() == day == today, (
            f"{row['key']} left on {day} dated {sent_on}"
        )
        since = month.opted_out.get(person)
        assert since is None or day < since, f"{row['email']} mailed on {day}, opted out {since}"
        bounced = month.bounced.get(row["email"].lower())
        assert bounced is None or day < bounced, f"{row['email']} mailed after bouncing"
    for day, count in per_day.items():
        assert count <= DAILY_CAP, f"{count} emails left on {day}: the cap is {DAILY_CAP}"
    for person, days in per_person.items():
        days.sort()
        gaps = [(b - a).days for a, b in itertools.pairwise(days)]
        assert all(g >= MIN_GAP_DAYS for g in gaps), f"{month.people[person].name}: {gaps}"
    twice = [month.talks[t] for t, n in per_talk.items() if n > 1]
    assert not twice, f"thanked twice: {twice}"


# ----- a month ---------------------------------------------------------------------------------


def _play_month(
    ws: Workspace,
    sheet: Path,
    fake: FakeGoogle,
    seed: int,
    flags: Flags,
    monkeypatch: pytest.MonkeyPatch,
) -> Month:
    month = Month(random.Random(seed), flags)
    for _ in range(12):
        _new_person(month)
    month.people.append(Person("Phone Only", [""]))
    for offset in range(DAYS):
        today = START + timedelta(days=offset)
        monkeypatch.setenv("BREADCRUMBS_TODAY", today.isoformat())
        cli_opt_outs, unwritable = _events(month, today, offset)
        _write_sheet(sheet, month)
        run_sync(ws, str(sheet))
        month.talk_of.update(
            (iid, row - 2)
            for iid, row in sql(ws, "SELECT interaction_id, source_row FROM interactions")
        )
        for address in cli_opt_outs:
            result = CliRunner().invoke(app, ["opt-out", address, "--workspace", str(ws.root)])
            assert result.exit_code == 0, result.output
        read_mailbox = _maybe_bounce(ws, month, fake, today, offset)
        _play_day(ws, read_mailbox, unwritable, digest=today.weekday() < 5)
        _check_day(ws, month, today)
        _check_roster(ws, month, today)
    return month


def _check_roster(ws: Workspace, month: Month, today: date) -> None:
    """The month's first digest run decides who gets its update; nobody joins later."""
    if today.weekday() >= 5:
        return
    this_month = today.strftime("%Y-%m")
    keys = {
        key
        for (key,) in sql(ws, "SELECT key FROM messages WHERE kind = 'monthly'")
        if key.endswith(f":{this_month}")
    }
    first = month.rosters.setdefault(this_month, keys)
    assert keys <= first, f"joined {this_month}'s updates mid-month: {sorted(keys - first)}"


def _maybe_bounce(ws: Workspace, month: Month, fake: FakeGoogle, today: date, offset: int) -> bool:
    """On two days an address emailed before bounces; that day's run reads the mailbox."""
    if offset not in (12, 23):
        return False
    mailed = sorted(
        {r[0] for r in sql(ws, "SELECT lower(email) FROM messages")} - set(month.bounced)
    )
    if not mailed:
        return False
    address = month.rng.choice(mailed)
    month.bounced[address] = today
    fake.add_bounce(
        address, when=datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=6)
    )
    return True


def _play_day(ws: Workspace, read_mailbox: bool, unwritable: bool, digest: bool) -> None:
    """The morning's follow-up, then on weekdays the digest; on an unwritable day the outbox
    folder is a file."""
    aside = ws.root / "outbox-aside"
    if unwritable:
        if ws.outbox.exists():
            ws.outbox.rename(aside)
        ws.outbox.write_bytes(b"")
    try:
        run_follow_up(ws, read_mailbox=read_mailbox)
        if digest:
            run_digest(ws, read_mailbox=False)
    finally:
        if unwritable:
            ws.outbox.unlink()
            if aside.exists():
                aside.rename(ws.outbox)


def _variant(flags: Flags, name: str, months: int = MONTHS) -> list[Any]:
    return [pytest.param(flags, 2026_11_02 + n, id=f"{name}-{n}") for n in range(months)]


VARIANTS = (
    _variant(Flags(), "plain")
    + _variant(Flags(deferrals=True), "deferrals")
    + _variant(Flags(address_changes=True), "address-changes")
    # Both at once only under `make soak`: `make test` stays near a minute.
    + _variant(
        Flags(address_changes=True, deferrals=True),
        "address-changes-and-deferrals",
        MONTHS if SOAKING else 0,
    )
)


@pytest.mark.parametrize(("flags", "seed"), VARIANTS)
def test_a_month_of_a_job_search_keeps_the_etiquette_every_day(
    flags: Flags, seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty generated days: after each day's sync and follow-up, every rule holds."""
    ws = Workspace(tmp_path / "ws")
    init_workspace(ws)
    write_profile(
        ws,
        vcard=False,
        thank_you_days=THANK_YOU_DAYS,
        min_gap_days=MIN_GAP_DAYS,
        daily_cap=DAILY_CAP,
        quiet_days=QUIET_DAYS,
    )
    sheet = tmp_path / "sheet"
    sheet.mkdir()
    with serving(monkeypatch, ws) as fake:
        month = _play_month(ws, sheet, fake, seed, flags, monkeypatch)
    delivered = sql(ws, "SELECT count(*) FROM messages WHERE state IN ('written', 'sent')")
    assert delivered[0][0] >= 10, "a month should bring emails"
    assert month.rosters["2026-11"] == set(), "November's first run found nobody to update"
    assert month.rosters["2026-12"], "December's first run should list monthly updates"
    assert month.opted_out and month.bounced
    if flags.address_changes:
        assert month.changes
    if flags.deferrals:
        # Deferred emails met both fates: some left on a later day, composed again, and
        # some were withdrawn once past their moment.
        later = sql(ws, "SELECT count(*) FROM messages WHERE state = 'written' AND attempts > 1")
        assert month.unwritable_days and later[0][0] and month.withdrawn
