"""Four weeks of a job search played day by day: the sheet grows and is edited each day,
`sync` and `follow-up` run each morning, and the etiquette holds over the whole stretch."""

from __future__ import annotations

import csv
import itertools
import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from breadcrumbs.deliver.outbox import file_name
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.store.ledger import rows_in
from breadcrumbs.sync import run_sync
from breadcrumbs.workspace import SAMPLE_DIR

START = date(2026, 11, 2)
DAYS = 28
KINDS = ["call", "coffee", "meeting", "video", "event"]


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Workspace, Path]:
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    (ws.root / "profile.toml").write_bytes((SAMPLE_DIR / "profile.toml").read_bytes())
    sheet = tmp_path / "sheet"
    sheet.mkdir()
    return ws, sheet


def test_four_weeks_day_by_day_keep_every_email_once_and_the_gaps(
    search: tuple[Workspace, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each day's run adds no duplicate, respects the gap and opt-outs, and the outbox
    holds exactly one file per delivered ledger row."""
    ws, sheet = search
    rng = random.Random(20261125)
    people = [
        {
            "email": f"p{i}@example.com",
            "name": f"Person {i}",
            "company": f"Co {i % 7}",
            "referred_by": "",
            "opt_out": "",
        }
        for i in range(30)
    ] + [{"email": "", "name": "Phone Only", "company": "", "referred_by": "", "opt_out": ""}]
    conversations: list[dict[str, str]] = []
    opted_out_on: dict[str, date] = {}
    next_new = 30

    for offset in range(DAYS):
        today = START + timedelta(days=offset)
        monkeypatch.setenv("BREADCRUMBS_TODAY", today.isoformat())
        # Yesterday's talks are entered today, some with referrals to new people.
        for _ in range(rng.randint(0, 4)):
            who = rng.choice(people[:next_new])
            referrals = []
            if rng.random() < 0.3:
                new = {
                    "email": f"p{next_new}@example.com",
                    "name": f"Person {next_new}",
                    "company": "",
                    "referred_by": "",
                    "opt_out": "",
                }
                people.append(new)
                referrals.append(new["name"])
                next_new += 1
            conversations.append(
                {
                    "date": (today - timedelta(days=rng.choice([0, 1, 1, 2]))).isoformat(),
                    "contact": who["email"] or who["name"],
                    "kind": rng.choice(KINDS),
                    "topic": "your work",
                    "notes": "",
                    "referrals": ";".join(referrals),
                }
            )
        # Edits the user makes to rows already thanked: notes, a date typo, a kind typo.
        if conversations and rng.random() < 0.5:
            row = rng.choice(conversations)
            change = rng.choice(["notes", "date", "kind"])
            if change == "notes":
                row["notes"] = f"edited on {today}"
            elif change == "date":
                shifted = date.fromisoformat(row["date"]) - timedelta(days=1)
                row["date"] = shifted.isoformat()
            else:
                row["kind"] = rng.choice(KINDS)
        # Now and then someone asks not to be emailed.
        if offset in (9, 17):
            person = rng.choice([p for p in people if p["email"] and not p["opt_out"]])
            person["opt_out"] = "yes"
            opted_out_on[person["email"]] = today
        _write(
            sheet / "contacts.csv", ["email", "name", "company", "referred_by", "opt_out"], people
        )
        _write(
            sheet / "interactions.csv",
            ["date", "contact", "kind", "topic", "notes", "referrals"],
            conversations,
        )
        run_sync(ws, str(sheet))
        run_follow_up(ws)

    with open_store(ws) as con:
        rows = con.execute(
            "SELECT key, kind, lower(email), planned_on, for_date, state FROM messages "
            "ORDER BY planned_on, key"
        ).fetchall()
    assert rows, "four weeks of conversations should have brought some emails"
    assert {r[5] for r in rows} == {"written"}
    files = {p.name for p in ws.outbox.glob("*.eml")}
    with open_store(ws) as con:
        assert files == {file_name(r.outgoing()) for r in rows_in(con, ["written"])}

    by_person: dict[str, list[date]] = defaultdict(list)
    thanked: dict[tuple[str, date], int] = defaultdict(int)
    for _key, kind, email, planned_on, for_date, _state in rows:
        by_person[email].append(planned_on)
        if kind == "thank-you":
            thanked[(email, for_date)] += 1
        if email in opted_out_on:
            assert planned_on < opted_out_on[email], f"{email} was emailed after opting out"
    for email, days in by_person.items():
        gaps = [(b - a).days for a, b in itertools.pairwise(days)]
        assert all(g >= 3 for g in gaps), f"{email} got emails {gaps} days apart"
    assert all(n == 1 for n in thanked.values()), "one conversation was thanked twice"
