"""Who is due, who waits and who is going cold: each rule of breadcrumbs/detect.py at its
boundaries, played day by day with BREADCRUMBS_TODAY on a real DuckDB file."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from breadcrumbs.detect import _Candidate, apply_etiquette, find_candidates
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.profile import Etiquette
from breadcrumbs.records import Due
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.store.ledger import opt_out, skip
from tests.follow_up_support import (
    ME,
    outbox,
    play,
    read_message,
    recipients,
    sql,
    states,
    sync,
    text_of,
    waiting_reason,
    write_profile,
    write_sheet,
)

TODAY = date(2026, 11, 25)
ANN = """
    email,name,company,referred_by,opt_out
    ann@example.com,Ann Lee,Acme Analytics,,
"""


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


@pytest.mark.parametrize(
    ("thank_you_days", "met_days_ago", "due"),
    [
        (3, 0, True),  # the same day
        (3, 1, True),
        (3, 3, True),  # the last day of the window
        (3, 4, False),  # one day too late: call them instead
        (3, -1, False),  # dated tomorrow: it has not happened yet
        (0, 0, True),
        (0, 1, False),
        (10, 10, True),
        (10, 11, False),
    ],
)
def test_a_thank_you_is_due_from_the_conversation_until_thank_you_days_after(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    thank_you_days: int,
    met_days_ago: int,
    due: bool,
) -> None:
    """Day 0 to thank_you_days after a conversation: due; a day later or in the future: not."""
    write_profile(workspace, thank_you_days=thank_you_days)
    write_sheet(
        workspace,
        ANN,
        f"""
        date,contact,kind,topic,notes,referrals
        {days_ago(met_days_ago)},ann@example.com,coffee,,,
        """,
    )
    play(workspace, monkeypatch, TODAY.isoformat())
    assert recipients(workspace) == (["ann@example.com"] if due else [])


@pytest.mark.parametrize(
    ("contacts", "interactions"),
    [
        pytest.param(
            ANN,
            f"""
            date,contact,kind,topic,notes,referrals
            {days_ago(20)},ann@example.com,coffee,,,Bob Stone <bob@example.com>
            """,
            id="named-in-a-referrals-cell",
        ),
        pytest.param(
            ANN + "bob@example.com,Bob Stone,Globex,ann@example.com,\n",
            "",
            id="referred_by-an-email",
        ),
        pytest.param(
            ANN + "bob@example.com,Bob Stone,Globex,Ann Lee,\n",
            "",
            id="referred_by-a-name",
        ),
    ],
)
def test_an_intro_is_due_for_a_referred_person_never_contacted(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    contacts: str,
    interactions: str,
) -> None:
    """A referral with an address and no touch yet gets "You were referred to me by Ann"."""
    write_profile(workspace)
    write_sheet(workspace, contacts, interactions)
    report = play(workspace, monkeypatch, TODAY.isoformat())
    assert recipients(workspace) == ["bob@example.com"]
    assert [o.key for o in report.outcomes] == ["intro:e:bob@example.com"]
    body = text_of(read_message(outbox(workspace)[0]))
    assert "You were referred to me by Ann Lee" in body


@pytest.mark.parametrize(
    ("touch", "statement"),
    [
        ("a conversation", None),
        (
            "mail in the mailbox",
            "INSERT INTO mailbox_touches (provider_id, email, direction, touched_on, subject) "
            "VALUES ('m1', 'bob@example.com', 'in', DATE '2026-09-01', 'hi')",
        ),
        (
            "an earlier email in the ledger",
            "INSERT INTO messages (key, kind, contact_id, email, state, planned_on) VALUES "
            "('monthly:e:bob@example.com:2026-09', 'monthly', 'e:bob@example.com', "
            "'bob@example.com', 'written', DATE '2026-09-01')",
        ),
    ],
)
def test_no_intro_once_the_referred_person_has_a_conversation_or_an_email(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    touch: str,
    statement: str | None,
) -> None:
    """Contacted already, by a conversation or an email either way: no intro."""
    write_profile(workspace)
    talked = f"{days_ago(60)},bob@example.com,call,,," if touch == "a conversation" else ""
    write_sheet(
        workspace,
        ANN + "bob@example.com,Bob Stone,Globex,ann@example.com,\n",
        "date,contact,kind,topic,notes,referrals\n" + talked,
    )
    sync(workspace)
    if statement:
        sql(workspace, statement)
    report = play(workspace, monkeypatch, TODAY.isoformat())
    assert report.outcomes == []
    assert recipients(workspace) == []


@pytest.mark.parametrize(
    ("last_touch_days_ago", "cold"),
    [
        (None, True),  # never contacted
        (0, False),
        (45, False),  # exactly cold_days ago: still warm
        (46, True),  # one day more: call them
        (400, True),
    ],
)
def test_going_cold_lists_the_never_contacted_and_those_untouched_past_cold_days(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    last_touch_days_ago: int | None,
    cold: bool,
) -> None:
    """cold_days = 45: a last touch 45 days ago is warm, 46 is cold; cold is never emailed."""
    write_profile(workspace, cold_days=45, thank_you_days=0)
    met = (
        ""
        if last_touch_days_ago is None
        else f"{days_ago(last_touch_days_ago)},ann@example.com,call,,,"
    )
    write_sheet(workspace, ANN, f"date,contact,kind,topic,notes,referrals\n{met}")
    report = play(workspace, monkeypatch, TODAY.isoformat())
    assert [c.name for c in report.cold] == (["Ann Lee"] if cold else [])
    if last_touch_days_ago != 0:
        assert recipients(workspace) == []  # the cold list is for calling, not for email


def test_an_email_written_to_the_outbox_counts_as_a_touch(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last touch is the thank-you written two days after the call, not the call."""
    write_profile(workspace, cold_days=45)
    write_sheet(
        workspace,
        ANN,
        """
        date,contact,kind,topic,notes,referrals
        2026-10-01,ann@example.com,call,,,
        """,
    )
    play(workspace, monkeypatch, "2026-10-03")
    assert recipients(workspace) == ["ann@example.com"]
    assert play(workspace, monkeypatch, "2026-11-17").cold == []  # 45 days after the email
    assert [c.name for c in play(workspace, monkeypatch, "2026-11-18").cold] == ["Ann Lee"]


def test_a_thank_you_after_an_intro_waits_for_min_gap_days(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intro on the 20th, coffee on the 21st: the thank-you waits until the 23rd (gap 3)."""
    write_profile(workspace, min_gap_days=3)
    contacts = ANN + "bob@example.com,Bob Stone,Globex,ann@example.com,\n"
    write_sheet(workspace, contacts)
    play(workspace, monkeypatch, "2026-11-20")
    assert recipients(workspace) == ["bob@example.com"]

    write_sheet(
        workspace,
        contacts,
        """
        date,contact,kind,topic,notes,referrals
        2026-11-21,bob@example.com,coffee,,,
        """,
    )
    for day in ("2026-11-21", "2026-11-22"):
        report = play(workspace, monkeypatch, day)
        assert "emailed on 2026-11-20" in waiting_reason(report, "bob@example.com")
    report = play(workspace, monkeypatch, "2026-11-23")
    assert states(report) == {"bob@example.com": "written"}
    assert len(outbox(workspace)) == 2


def test_a_second_conversation_gets_its_thank_you_once_the_gap_has_passed(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two conversations four days apart, min_gap_days 5: the second waits one day."""
    write_profile(workspace, min_gap_days=5, thank_you_days=3)
    write_sheet(
        workspace,
        ANN,
        """
        date,contact,kind,topic,notes,referrals
        2026-11-10,ann@example.com,coffee,,,
        2026-11-14,ann@example.com,call,,,
        """,
    )
    play(workspace, monkeypatch, "2026-11-10")
    report = play(workspace, monkeypatch, "2026-11-14")
    assert "waits 5 days" in waiting_reason(report, "ann@example.com")
    report = play(workspace, monkeypatch, "2026-11-15")
    assert states(report) == {"ann@example.com": "written"}
    subjects = sorted(str(read_message(p)["Subject"]) for p in outbox(workspace))
    assert subjects == ["Thanks for the call, Ann", "Thanks for the coffee, Ann"]


def test_two_conversation_rows_on_one_day_bring_one_thank_you(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One email per person per run; the twin row never gets its own thank-you later."""
    write_profile(workspace)
    write_sheet(
        workspace,
        ANN,
        """
        date,contact,kind,topic,notes,referrals
        2026-11-24,ann@example.com,coffee,,,
        2026-11-24,ann@example.com,call,,,
        """,
    )
    report = play(workspace, monkeypatch, "2026-11-24")
    assert "one email per person" in waiting_reason(report, "ann@example.com")
    for day in ("2026-11-25", "2026-11-26", "2026-11-27"):
        play(workspace, monkeypatch, day)
    assert recipients(workspace) == ["ann@example.com"]


def candidate(
    key: str = "thank-you:i:1",
    email: str = "ann@example.com",
    mailable: bool = True,
    unmailable_reason: str | None = None,
    opted_out: bool = False,
    bounced: str | None = None,
    last_email_on: date | None = None,
) -> _Candidate:
    kind = key.split(":")[0]
    due = Due(key, kind, "e:" + email.lower(), email, "Ann Lee", "Ann")
    return _Candidate(due, mailable, unmailable_reason, opted_out, bounced, last_email_on)


@pytest.mark.parametrize(
    ("candidates", "sent_today", "due_keys", "reasons"),
    [
        pytest.param([candidate()], 0, ["thank-you:i:1"], [], id="mailable"),
        pytest.param(
            [candidate(email="", mailable=False)], 0, [], ["no email address"], id="no-email"
        ),
        pytest.param([candidate(opted_out=True)], 0, [], ["opted out"], id="opted-out"),
        pytest.param(
            [candidate(bounced="550 no such user")],
            0,
            [],
            ["address bounced: 550 no such user"],
            id="bounced",
        ),
        pytest.param(
            [candidate(mailable=False, unmailable_reason="control characters in name")],
            0,
            [],
            ["control characters in name"],
            id="control-characters",
        ),
        pytest.param(
            [candidate(last_email_on=TODAY - timedelta(days=3))],
            0,
            ["thank-you:i:1"],
            [],
            id="last-email-exactly-min-gap-ago",
        ),
        pytest.param(
            [candidate(last_email_on=TODAY - timedelta(days=2))],
            0,
            [],
            ["emailed on 2026-11-23: waits 3 days"],
            id="last-email-inside-the-gap",
        ),
        pytest.param(
            [candidate(), candidate(key="intro:e:ann@example.com", email="Ann@Example.com")],
            0,
            ["thank-you:i:1"],
            ["one email per person"],
            id="thank-you-before-intro",
        ),
        pytest.param(
            [candidate(key=f"thank-you:i:{n}", email=f"p{n}@example.com") for n in range(3)],
            1,
            ["thank-you:i:0"],
            ["daily cap of 2", "daily cap of 2"],
            id="daily-cap-counts-what-left-today",
        ),
    ],
)
def test_the_etiquette_rules_split_candidates_into_due_and_waiting(
    candidates: list[_Candidate], sent_today: int, due_keys: list[str], reasons: list[str]
) -> None:
    """Opted out, bounced, unmailable, inside the gap, second for a person, over the cap."""
    etiquette = Etiquette(min_gap_days=3, daily_cap=2)
    detection = apply_etiquette(candidates, TODAY, etiquette, sent_today)
    assert [d.key for d in detection.due] == due_keys
    assert len(detection.waiting) == len(reasons)
    for skipped, reason in zip(detection.waiting, reasons, strict=True):
        assert reason in skipped.reason


def test_candidates_list_thank_yous_before_intros(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that when one person is due both, the thank-you is the one that goes."""
    write_profile(workspace)
    write_sheet(
        workspace,
        ANN + "bob@example.com,Bob Stone,Globex,ann@example.com,\n",
        f"""
        date,contact,kind,topic,notes,referrals
        {days_ago(1)},ann@example.com,coffee,,,Cy Park <cy@example.com>
        """,
    )
    monkeypatch.setenv("BREADCRUMBS_TODAY", TODAY.isoformat())
    sync(workspace)
    with open_store(workspace) as con:
        found = find_candidates(con, TODAY, Etiquette(), ME["email"])
    assert [c.due.kind for c in found] == ["thank-you", "intro", "intro"]


def test_the_daily_cap_holds_the_rest_for_tomorrow(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """daily_cap 2 and three thank-yous due: two today, the third the next day."""
    write_profile(workspace, daily_cap=2)
    write_sheet(
        workspace,
        """
        email,name
        a@example.com,Ann Lee
        b@example.com,Bob Stone
        c@example.com,Cy Park
        """,
        """
        date,contact,kind,topic,notes,referrals
        2026-11-24,a@example.com,call,,,
        2026-11-24,b@example.com,call,,,
        2026-11-24,c@example.com,call,,,
        """,
    )
    report = play(workspace, monkeypatch, "2026-11-24")
    assert report.count("written") == 2
    assert "daily cap of 2" in report.waiting[0].reason
    assert play(workspace, monkeypatch, "2026-11-24").count("written") == 0
    assert play(workspace, monkeypatch, "2026-11-25").count("written") == 1
    assert len(outbox(workspace)) == 3


def test_an_opt_out_from_the_sheet_survives_a_sheet_without_it(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opted out once in the sheet; the cell is cleared later: still never emailed."""
    write_profile(workspace)
    conversation = f"date,contact,kind,topic,notes,referrals\n{days_ago(1)},ann@example.com,call,,,"
    write_sheet(workspace, ANN.replace("Analytics,,", "Analytics,,yes"), conversation)
    report = play(workspace, monkeypatch, TODAY.isoformat())
    assert waiting_reason(report, "ann@example.com") == "opted out"
    write_sheet(workspace, ANN, conversation)
    report = play(workspace, monkeypatch, TODAY.isoformat())
    assert waiting_reason(report, "ann@example.com") == "opted out"
    assert recipients(workspace) == []


def test_an_opt_out_given_on_the_command_line_survives_a_resync(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`opt-out ANN@example.com` holds although the sheet never says so."""
    write_profile(workspace)
    write_sheet(
        workspace,
        ANN,
        f"date,contact,kind,topic,notes,referrals\n{days_ago(1)},ann@example.com,call,,,",
    )
    sync(workspace)
    with open_store(workspace) as con:
        opt_out(con, " ANN@Example.com ")
    report = play(workspace, monkeypatch, TODAY.isoformat())
    assert waiting_reason(report, "ann@example.com") == "opted out"
    assert recipients(workspace) == []


@pytest.mark.parametrize(
    ("contact_row", "who", "bounce", "reason"),
    [
        ("not-an-email,Nora Noemail", "Nora Noemail", False, "no email address"),
        (",Nora Noemail", "Nora Noemail", False, "no email address"),
        (
            'nora@example.com,"Nora\nBcc: x@evil.example"',
            "nora@example.com",
            False,
            "control characters in name",
        ),
        ("nora@example.com,Nora \u202eexe.fdp", "nora@example.com", False, "control characters"),
        ("nora@example.com,Nora Noemail", "nora@example.com", True, "address bounced"),
    ],
)
def test_invalid_missing_hostile_or_bounced_addresses_are_never_emailed(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    contact_row: str,
    who: str,
    bounce: bool,
    reason: str,
) -> None:
    """The conversation is due a thank-you, and it waits with the reason instead."""
    write_profile(workspace)
    (workspace.root / "sheet").mkdir()
    (workspace.root / "sheet" / "contacts.csv").write_text(f"email,name\n{contact_row}\n")
    (workspace.root / "sheet" / "interactions.csv").write_text(
        f"date,contact,kind\n{days_ago(1)},{who},call\n"
    )
    if bounce:
        sync(workspace)
        sql(workspace, "INSERT INTO unmailable VALUES ('nora@example.com', '550 gone', NULL)")
    report = play(workspace, monkeypatch, TODAY.isoformat())
    assert [o for o in report.outcomes if o.state == "written"] == []
    assert len(report.waiting) == 1
    assert reason in report.waiting[0].reason
    assert outbox(workspace) == []


def test_a_skipped_email_is_never_due_again(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`skip KEY` drops it for good: not today, not tomorrow, while still in the window."""
    write_profile(workspace)
    write_sheet(
        workspace,
        ANN,
        f"date,contact,kind,topic,notes,referrals\n{days_ago(1)},ann@example.com,call,,,",
    )
    monkeypatch.setenv("BREADCRUMBS_TODAY", TODAY.isoformat())
    sync(workspace)
    [would] = run_follow_up(workspace, dry_run=True).outcomes
    with open_store(workspace) as con:
        skip(con, would.key)
    assert play(workspace, monkeypatch, TODAY.isoformat()).outcomes == []
    assert play(workspace, monkeypatch, "2026-11-26").outcomes == []
    assert outbox(workspace) == []
