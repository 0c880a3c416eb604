"""The etiquette of monthly updates as a property: whatever the days, the cap, new
conversations and opt-outs, each person gets at most one update a month, none after its
month, none in a month whose first run found them in the quiet period, and none once they
opted out (Hypothesis plays random job searches day by day on a real store)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breadcrumbs.digest import run_digest
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.store.ledger import opt_out
from breadcrumbs.workspace import init_workspace
from tests.follow_up_support import sync, write_profile, write_sheet

PEOPLE = ["ann", "bob", "cy", "dee"]
CONTACTS = "email,name\n" + "".join(f"{p}@example.com,{p.title()} Test\n" for p in PEOPLE)
START = date(2026, 11, 28)  # a first run near a month's start, so its quiet period ends in it

DELIVERED = (
    "SELECT key, email, for_date, delivered_on FROM messages "
    "WHERE kind = 'monthly' AND state IN ('sent', 'drafted', 'written')"
)
step = st.tuples(
    st.integers(0, 6),  # days to move on
    st.sampled_from(["digest", "digest", "follow-up", "talk", "opt-out"]),
    st.sampled_from(PEOPLE),
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cap=st.integers(1, 3),
    first_talks=st.lists(st.integers(1, 40), min_size=4, max_size=4),
    steps=st.lists(step, min_size=3, max_size=10),
)
def test_monthly_updates_keep_their_etiquette_whatever_the_days(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    cap: int,
    first_talks: list[int],
    steps: list[tuple[int, str, str]],
) -> None:
    workspace = Workspace(Path(tmp_path_factory.mktemp("prop")) / "ws")
    init_workspace(workspace)
    write_profile(workspace, daily_cap=cap)
    talks = [
        f"{START - timedelta(days=d)},{p}@example.com,call"
        for p, d in zip(PEOPLE, first_talks, strict=True)
    ]
    write_sheet(workspace, CONTACTS, "date,contact,kind\n" + "\n".join(talks))
    today = START
    quiet_on_first_run: dict[str, set[str]] = {}
    opted: dict[str, set[str]] = {}  # keys delivered before the opt-out
    for days, action, person in [(0, "digest", "ann"), *steps]:
        today += timedelta(days=days)
        monkeypatch.setenv("BREADCRUMBS_TODAY", today.isoformat())
        address = f"{person}@example.com"
        if action == "talk":
            talks.append(f"{today - timedelta(days=1)},{address},coffee")
            write_sheet(workspace, CONTACTS, "date,contact,kind\n" + "\n".join(talks))
        elif action == "opt-out":
            with open_store(workspace) as con:
                opt_out(con, address)
                before = con.execute(DELIVERED + " AND lower(email) = ?", [address]).fetchall()
            opted.setdefault(address, {r[0] for r in before})
        sync(workspace)
        if action == "follow-up":
            run_follow_up(workspace)
        elif action == "digest":
            report = run_digest(workspace)
            if report.month not in quiet_on_first_run:  # what the month's first run saw
                quiet_on_first_run[report.month] = {
                    w.due.email for w in report.waiting if "quiet period" in w.reason
                }
    with open_store(workspace) as con:
        delivered = con.execute(DELIVERED).fetchall()
    seen: set[tuple[str, str]] = set()
    for key, email, first, on in delivered:
        month = key.rsplit(":", 1)[1]
        assert (email, month) not in seen, f"two updates for {month} to {email}"
        seen.add((email, month))
        assert (on.year, on.month) == (first.year, first.month), f"{key} left on {on}"
        assert email not in quiet_on_first_run.get(month, set()), f"{key} added mid-month"
        assert key in opted.get(email, {key}), f"{key} after the opt-out"
