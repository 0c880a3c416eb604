"""Detect on the derived tables finds exactly what main's queries found (issue 11).

tests/detect_reference.py is main's detect queries, verbatim. Here both run on the same
synced generated network (bench/generate.py: merges, rejects, referral chains, people known
by name only), with a ledger, skips, opt-outs, bounces and mailbox touches added, on days
before, on and after the sync and far from it (where the derived window does not cover the
day and detect reads every conversation), with narrow and wide windows, and again after a
re-sync of an edited sheet: every list, candidate for candidate and in the same order.

While the store is held open past detection (store.database.one_opening, as the CLI's
digest holds it through compose and delivery), the month's list is decided from fewer
columns and what an update only shows is read from the store as updates are built, the
rest as the store closes: every comparison runs both ways (`held`), and the items built
after the store closed, or after the ledger changed, are the ones built before.

Detect keeps each list as its fetched rows and builds an item when it is read
(records.Lazy); the etiquette rules and the month's listing read the rows. So the lists
are also put through main's etiquette and listing (the reference's, on main's candidates)
and the new ones (on the rows), with the daily cap free and nearly reached, and every list
is read back to front by negative index before it is compared whole: the same items, in
the same order, whichever is built first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from bench import generate
from breadcrumbs import detect
from breadcrumbs.profile import Etiquette
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import one_opening, open_store
from breadcrumbs.sync import run_sync
from breadcrumbs.workspace import init_workspace
from tests import detect_reference as reference

TODAY = generate.TODAY
ME = "me@example.com"
DAYS = [-400, -95, -31, -1, 0, 1, 31, 61, 400]
ETIQUETTES = [
    Etiquette(),
    Etiquette(thank_you_days=60, quiet_days=0, cold_days=1),
    Etiquette(thank_you_days=0, quiet_days=365, cold_days=400),
]


def write_sheet(folder: Path, people: list[list[str]], talks: list[list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    generate.write_csv(folder / "contacts.csv", generate.CONTACT_HEADER, people)
    generate.write_csv(folder / "interactions.csv", generate.INTERACTION_HEADER, talks)
    return folder


def add_the_database_own(con: duckdb.DuckDBPyConnection) -> None:
    """A ledger of every state and kind, skips, opt-outs, bounces and mailbox touches, on
    people picked across the network (some recent talkers, some referred, some cold)."""
    talks = con.execute(
        "SELECT interaction_id, contact_id, date FROM interactions "
        "WHERE date >= ? ORDER BY interaction_id LIMIT 400",
        [TODAY - timedelta(days=70)],
    ).fetchall()
    people = con.execute(
        "SELECT contact_id, lower(email) FROM contacts WHERE email IS NOT NULL ORDER BY contact_id"
    ).fetchall()
    states = ["planned", "sent", "written", "drafted", "failed", "listed", "deferred"]
    rows = []
    for n, (iid, cid, day) in enumerate(talks[:200]):
        key = f"thank-you:{iid}" if n % 5 else f"thank-you:i:gone{n}"  # some orphans
        rows.append((key, "thank-you", cid, None, states[n % len(states)], day, day, day))
    for n, (cid, email) in enumerate(people[::37]):
        day = TODAY - timedelta(days=n % 80)
        kind = ("intro", "monthly", "thank-you")[n % 3]
        key = f"{kind}:{cid}" if kind != "monthly" else f"monthly:{cid}:{str(TODAY)[:7]}"
        if kind == "thank-you":
            key = f"thank-you:i:other{n}"
        rows.append((key, kind, cid, email, states[n % len(states)], day, day, day))
    con.executemany(
        "INSERT INTO messages (key, kind, contact_id, email, state, for_date, planned_on, "
        "delivered_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        rows,
    )
    for iid, _, day in talks[200:260]:
        con.execute(
            "INSERT INTO skips VALUES (?, ?, 'skip') ON CONFLICT DO NOTHING",
            [f"thank-you:{iid}", day],
        )
    for cid, _ in people[5::53]:
        con.execute(
            "INSERT INTO skips VALUES (?, ?, 'skip') ON CONFLICT DO NOTHING",
            [f"intro:{cid}", TODAY],
        )
    # A month's update skipped, and ledger rows and skips of other months (which must not
    # count for this one): detect reads the month's rows by the contact their key names.
    month, other = str(TODAY)[:7], str(TODAY - timedelta(days=40))[:7]
    for n, (cid, email) in enumerate(people[9::47]):
        key = f"monthly:{cid}:{month if n % 2 else other}"
        con.execute("INSERT INTO skips VALUES (?, ?, 'skip') ON CONFLICT DO NOTHING", [key, TODAY])
        con.execute(
            "INSERT INTO messages (key, kind, contact_id, email, state, for_date, planned_on) "
            "VALUES (?, 'monthly', ?, ?, 'listed', ?, ?) ON CONFLICT DO NOTHING",
            [f"monthly:{cid}:{other}", cid, email, TODAY, TODAY],
        )
    for _, email in people[7::41]:
        con.execute(
            "INSERT INTO opt_outs VALUES (?, ?, 'cli') ON CONFLICT DO NOTHING", [email, TODAY]
        )
    for _, email in people[11::43]:
        con.execute(
            "INSERT INTO unmailable VALUES (?, 'bounced', ?) ON CONFLICT DO NOTHING", [email, TODAY]
        )
    # Mail at an address a person had before: a touch of that person all the same.
    for n, (cid, _) in enumerate(people[13::31]):
        old_address = f"old{n}@example.org"
        con.execute(
            "INSERT INTO addresses VALUES (?, ?) ON CONFLICT DO NOTHING", [old_address, cid]
        )
        con.execute(
            "INSERT INTO mailbox_touches VALUES (?, ?, ?, ?, 's', NULL)",
            [f"old{n}", old_address, "in" if n % 2 else "out", TODAY - timedelta(days=n % 90)],
        )
    # Two contacts at one address (the second in other letters): one reader of a month's
    # update. The second is nobody's referral, so the derived referral_pairs stay true.
    talkers = "SELECT contact_id FROM contact_facts WHERE talked {} ORDER BY contact_id {} LIMIT 6"
    firsts = con.execute(talkers.format("", "")).fetchall()
    unreferred = "AND contact_id NOT IN (SELECT referred_id FROM referral_pairs)"
    seconds = con.execute(talkers.format(unreferred, "DESC")).fetchall()
    for (a,), (b,) in zip(firsts, seconds, strict=True):
        con.execute(
            "UPDATE contacts SET email = upper((SELECT email FROM contacts WHERE contact_id = ?)) "
            "WHERE contact_id = ?",
            [a, b],
        )
    for n, (_, email) in enumerate(people[3::29]):
        day = TODAY - timedelta(days=n % 50)
        local = datetime.combine(day, time(9 + n % 12)) if n % 3 else None
        con.execute(
            "INSERT INTO mailbox_touches VALUES (?, ?, ?, ?, 's', ?)",
            [f"p{n}", email, "out" if n % 4 else "in", day, local],
        )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("equivalence")
    ws = Workspace(root / "ws")
    init_workspace(ws)
    people = generate.contact_rows(1500, seed=11)
    talks = generate.interaction_rows(people, 9000, seed=11)
    # A few conversations dated ahead of the sync, as a sheet planned ahead has them.
    for n, row in enumerate(talks[:40]):
        row[0] = (TODAY + timedelta(days=1 + n)).isoformat()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BREADCRUMBS_TODAY", TODAY.isoformat())
        run_sync(ws, str(write_sheet(root / "sheet", people, talks)))
        with open_store(ws) as con:
            add_the_database_own(con)
        yield ws


def lists(con: duckdb.DuckDBPyConnection, module: object, day: date, e: Etiquette) -> dict:
    month = day.isoformat()[:7]
    found = {
        "candidates": module.find_candidates(con, day, e, ME),  # type: ignore[attr-defined]
        "cold": module.going_cold(con, day, e, ME),  # type: ignore[attr-defined]
    }
    for scope in ("first", "listed"):
        found[scope] = module.find_monthly_candidates(  # type: ignore[attr-defined]
            con, day, month, e, ME, scope
        )
    some = con.execute("SELECT contact_id FROM contacts ORDER BY contact_id LIMIT 30").fetchall()
    found["any"] = [
        module.find_monthly_candidates(con, day, month, e, ME, "any", cid)  # type: ignore[attr-defined]
        for (cid,) in some[::3]
    ]
    return found


def decided(module: object, found: dict, day: date, e: Etiquette) -> dict:
    """What etiquette makes of the lists (thank-yous and intros; the month's first run, its
    quiet period first as the digest has it) with the cap free and with 7 places left, and
    who the month's first run lists."""
    out = {}
    for sent in (0, e.daily_cap - 7):
        for name, candidates in (("follow-up", found["candidates"]), ("first", found["first"][0])):
            d = module.apply_etiquette(candidates, day, e, sent)  # type: ignore[attr-defined]
            quiet = found["first"][1] if name == "first" else []
            out[f"{name} due, {sent} sent"] = d.due
            out[f"{name} waiting, {sent} sent"] = quiet + d.waiting
    out["listed"] = module.listed_readers(found["first"][0])  # type: ignore[attr-defined]
    return out


def back_to_front(items: Sequence[object]) -> list[object]:
    """Every item read last first (a lazy list builds each as it is read), in list order."""
    return [items[n] for n in range(-1, -len(items) - 1, -1)][::-1]


def compare(ws: Workspace, days: list[int] = DAYS, held: bool = False) -> int:
    """Every list on every day and etiquette; how many candidates were compared. `held`:
    inside one opening of the store kept past detection (the month's list reads what its
    updates show as they are built)."""
    compared = 0
    with one_opening(ws) if held else nullcontext(), open_store(ws) as con:
        for offset in days:
            day = TODAY + timedelta(days=offset)
            for e in ETIQUETTES:
                want = lists(con, reference, day, e)
                got = lists(con, detect, day, e)
                wanted, decided_now = decided(reference, want, day, e), decided(detect, got, day, e)
                for name in wanted:
                    assert back_to_front(decided_now[name]) == wanted[name], f"{name} on {day}"
                    assert list(decided_now[name]) == wanted[name], f"{name} on {day} again"
                assert back_to_front(got["cold"]) == want["cold"], f"cold on {day} with {e}"
                assert back_to_front(got["first"][0]) == want["first"][0], f"first on {day}"
                for name in want:
                    assert got[name] == want[name], f"{name} differs on {day} with {e}"
                compared += len(want["candidates"]) + len(want["cold"])
                compared += len(want["first"][0]) + len(want["first"][1])
    return compared


@pytest.mark.parametrize("held", [False, True], ids=["closed", "held"])
def test_every_list_is_main_s_on_every_day(workspace: Workspace, held: bool) -> None:
    with open_store(workspace) as con:
        first, _ = detect.find_monthly_candidates(
            con, TODAY, str(TODAY)[:7], Etiquette(), ME, "first"
        )
    readers = [c.due.email.lower() for c in first if detect.on_the_list(c)]
    assert len(set(readers)) < len(readers)  # two contacts at one address: one reader
    assert compare(workspace, held=held) > 10_000


@pytest.mark.parametrize("held", [False, True], ids=["closed", "held"])
def test_every_list_is_main_s_after_a_resync_of_an_edited_sheet(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: bool
) -> None:
    monkeypatch.setenv("BREADCRUMBS_TODAY", (TODAY + timedelta(days=1)).isoformat())
    people = generate.contact_rows(1500, seed=11)
    talks = generate.interaction_rows(people, 9000, seed=11)
    generate.edit(people, 0.05, (3, 4), seed=12)
    generate.edit(talks, 0.05, (3,), seed=12)
    del talks[::7]  # conversations gone from the sheet: orphans, new last talks
    run_sync(workspace, str(write_sheet(tmp_path / "edited", people, talks)))
    assert compare(workspace, held=held) > 10_000


def test_the_lists_compared_are_not_empty(workspace: Workspace) -> None:
    """Every kind shows up somewhere, so an equality of empty lists proves nothing."""
    with open_store(workspace) as con:
        got = lists(con, detect, TODAY, Etiquette(thank_you_days=60))
    kinds = {c.due.kind for c in got["candidates"]}
    assert kinds == {"thank-you", "intro"}
    assert got["cold"] and got["first"][0] and got["first"][1]
    assert any(c.due.referred for c in got["first"][0])
    assert any(c.opted_out for c in got["candidates"]) and any(c.bounced for c in got["candidates"])
    assert any(len(c.due.referred) > 1 for c in got["first"][0])  # ordered when built
    e = Etiquette(thank_you_days=60)
    made = decided(detect, got, TODAY, e)
    for name in ("follow-up", "first"):
        reasons = {s.reason for s in made[f"{name} waiting, {e.daily_cap - 7} sent"]}
        assert len(made[f"{name} due, {e.daily_cap - 7} sent"]) == 7
        assert f"daily cap of {e.daily_cap} reached: waits for tomorrow" in reasons
    assert made["listed"] and len(made["listed"]) < len(got["first"][0])


def test_a_cell_holding_the_separator_or_a_missing_name_changes_no_list(
    workspace: Workspace,
) -> None:
    """A month's update fetches what it only shows as one text joined by the unit separator
    (detect._SEP); a cell holding that character, or a name missing, could not be split
    back, so detect fetches the fields apart instead: the same lists, the same updates."""
    with open_store(workspace) as con:
        first, second = con.execute(
            "SELECT contact_id, title, first_name FROM contacts JOIN contact_facts "
            "USING (contact_id) WHERE last_talk_on <= ? ORDER BY contact_id LIMIT 2",
            [TODAY],
        ).fetchall()
        con.execute(
            "UPDATE contacts SET title = 'VP' || chr(31) || 'Data' WHERE contact_id = ?",
            [first[0]],
        )
        con.execute("UPDATE contacts SET first_name = NULL WHERE contact_id = ?", [second[0]])
    try:
        with open_store(workspace) as con:
            found, _ = detect.find_monthly_candidates(
                con, TODAY, str(TODAY)[:7], Etiquette(quiet_days=0), ME, "first"
            )
            shown = {c.due.contact_id: c.due for c in found}
        assert shown[first[0]].title == "VP\x1fData"
        assert shown[second[0]].first_name is None
        assert compare(workspace, [0, 31]) > 1000
        assert compare(workspace, [0, 31], held=True) > 1000
    finally:
        with open_store(workspace) as con:
            con.execute("UPDATE contacts SET title = ? WHERE contact_id = ?", [first[1], first[0]])
            con.execute(
                "UPDATE contacts SET first_name = ? WHERE contact_id = ?", [second[2], second[0]]
            )


def _month(con: duckdb.DuckDBPyConnection, module: object, e: Etiquette) -> dict:
    """The month's first run's lists and its listing, as `decided` has them, unread."""
    found = {
        "first": module.find_monthly_candidates(  # type: ignore[attr-defined]
            con, TODAY, str(TODAY)[:7], e, ME, "first"
        )
    }
    d = module.apply_etiquette(found["first"][0], TODAY, e, 0)  # type: ignore[attr-defined]
    listed = module.listed_readers(found["first"][0])  # type: ignore[attr-defined]
    return {"due": d.due, "waiting": found["first"][1] + d.waiting, "listed": listed}


def test_updates_built_after_the_held_store_closed_are_those_built_before(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Detect leaves what the month's updates show in the held store; what no one read
    before it closed is read as it closes: reading them afterwards gives main's updates
    (one read while it was open, the last due: it is read with the first 16 of the list,
    the rest after)."""
    monkeypatch.setattr(detect, "_FIRST_CHUNK", 16)
    e = Etiquette(quiet_days=10)
    with one_opening(workspace), open_store(workspace) as con:
        want = _month(con, reference, e)
        got = _month(con, detect, e)
        assert got["due"][-1] == want["due"][-1]  # read while held: with the first chunk
    assert len(got["due"]) + len(got["waiting"]) > 100
    for name in want:
        assert back_to_front(got[name]) == want[name], name


def test_updates_built_after_the_ledger_changed_say_what_they_said_when_decided(
    workspace: Workspace,
) -> None:
    """What came of a reader's referrals counts the emails delivered and the mail sent
    within the window as they were when the month was decided: a delivery in the same
    opening (the digest's own, between compose and the report) changes no update built
    after it."""
    e = Etiquette(quiet_days=0)
    with one_opening(workspace), open_store(workspace) as con:
        want = _month(con, reference, e)
        got = _month(con, detect, e)
        referred = con.execute(
            "SELECT p.referred_id, p.email FROM referral_pairs p "
            "WHERE p.referrer_id IN (SELECT contact_id FROM contact_facts WHERE talked) "
            "AND p.email IS NOT NULL ORDER BY p.referred_id LIMIT 40"
        ).fetchall()
        con.execute("BEGIN")
        try:
            for n, (cid, email) in enumerate(referred):
                con.execute(
                    "INSERT INTO messages (key, kind, contact_id, email, state, for_date, "
                    "planned_on, delivered_on) VALUES (?, 'intro', ?, ?, 'written', ?, ?, ?)",
                    [f"intro:later{n}", cid, email, TODAY, TODAY, TODAY],
                )
                con.execute(
                    "INSERT INTO mailbox_touches VALUES (?, ?, 'out', ?, 's', NULL)",
                    [f"later{n}", email.lower(), TODAY],
                )
            now = _month(con, reference, e)
            assert now["due"] != want["due"]  # the change shows in updates decided now
            for name in want:
                assert back_to_front(got[name]) == want[name], name
        finally:
            con.execute("ROLLBACK")
