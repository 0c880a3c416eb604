"""The monthly update end to end on the real store, day by day with BREADCRUMBS_TODAY:
who gets month M's update, the first run deciding, the cap spilling over, withdrawal at
the month's end, and what each update says (breadcrumbs/digest.py)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from breadcrumbs.digest import DigestReport, run_digest
from breadcrumbs.errors import BreadcrumbsError
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.store.ledger import opt_out
from breadcrumbs.store.roster import month_counts
from tests.conftest import write_csv
from tests.follow_up_support import (
    ledger,
    outbox,
    read_message,
    recipients,
    sync,
    text_of,
    write_profile,
    write_sheet,
)

PEOPLE = """
    email,name,company
    ann@example.com,Ann Lee,Acme
    bob@example.com,Bob Stone,Birch
    cy@example.com,Cy Park,Cedar
"""


def digest(workspace: Workspace, monkeypatch: pytest.MonkeyPatch, day: str, **kw: Any) -> Any:
    """One day: move today, sync the sheet, run the digest."""
    monkeypatch.setenv("BREADCRUMBS_TODAY", day)
    sync(workspace)
    return run_digest(workspace, **kw)


def written(report: DigestReport) -> list[str]:
    return sorted(o.to for o in report.outcomes if o.state == "written")


def monthly_rows(workspace: Workspace) -> dict[str, str]:
    return {k: v for k, v in ledger(workspace).items() if k.startswith("monthly:")}


def talks(*rows: str) -> str:
    return "date,contact,kind,topic,notes,referrals\n" + "\n".join(rows)


@pytest.mark.parametrize(
    ("days_ago", "gets_one"), [(13, False), (14, True), (15, True)], ids=["13", "14", "15"]
)
def test_the_quiet_period_holds_an_update_for_14_days_after_a_touch(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, days_ago: int, gets_one: bool
) -> None:
    """quiet_days = 14: touched 13 days ago waits; 14 or 15 days ago gets this month's."""
    from datetime import date, timedelta

    talked = date(2026, 12, 20) - timedelta(days=days_ago)
    write_profile(workspace, quiet_days=14)
    write_sheet(workspace, PEOPLE, talks(f"{talked},ann@example.com,call,,,"))
    report = digest(workspace, monkeypatch, "2026-12-20")
    assert written(report) == (["ann@example.com"] if gets_one else [])
    if not gets_one:
        assert "quiet period" in report.waiting[0].reason
        assert monthly_rows(workspace) == {}


def test_an_email_delivered_or_mail_seen_is_a_touch_too(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thank-you written 10 days ago, or a reply seen in the mailbox, keeps them quiet."""
    write_profile(workspace)
    write_sheet(
        workspace,
        PEOPLE,
        talks("2026-11-29,ann@example.com,call,,,", "2026-10-01,bob@example.com,call,,,"),
    )
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-30")
    sync(workspace)
    assert run_follow_up(workspace).count("written") == 1  # Ann's thank-you, Nov 30
    with open_store(workspace) as con:
        con.execute(
            "INSERT INTO mailbox_touches (provider_id, email, direction, touched_on, subject) "
            "VALUES ('m1', 'bob@example.com', 'in', '2026-12-01', 'hi')"
        )
    report = digest(workspace, monkeypatch, "2026-12-10")
    assert written(report) == []
    assert {w.due.email for w in report.waiting} == {"ann@example.com", "bob@example.com"}


def test_a_second_run_in_the_month_sends_none_and_adds_nobody_mid_month(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cy was in the quiet period on December's first run: no December update for Cy,
    even once the quiet period is over; nobody gets a second one."""
    write_profile(workspace)
    write_sheet(
        workspace,
        PEOPLE,
        talks(
            "2026-10-01,ann@example.com,call,,,",
            "2026-10-02,bob@example.com,call,,,",
            "2026-11-28,cy@example.com,call,,,",
        ),
    )
    first = digest(workspace, monkeypatch, "2026-12-01")
    assert first.first_run
    assert written(first) == ["ann@example.com", "bob@example.com"]
    assert digest(workspace, monkeypatch, "2026-12-01").outcomes == []
    later = digest(workspace, monkeypatch, "2026-12-21")
    assert later.outcomes == [] and not later.first_run
    assert "nothing left to deliver for 2026-12" in later.notes[0]
    assert recipients(workspace) == ["ann@example.com", "bob@example.com"]
    # January decides afresh: Cy's quiet period is long over, and so are the others'.
    january = digest(workspace, monkeypatch, "2027-01-04")
    assert written(january) == ["ann@example.com", "bob@example.com", "cy@example.com"]


def test_the_daily_cap_spills_the_rest_to_the_next_run(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """daily_cap = 2: two go on the first day, the third waits and goes the next day."""
    write_profile(workspace, daily_cap=2)
    write_sheet(
        workspace,
        PEOPLE,
        talks(
            *(
                f"2026-10-0{n},{x}@example.com,call,,,"
                for n, x in ((1, "ann"), (2, "bob"), (3, "cy"))
            )
        ),
    )
    first = digest(workspace, monkeypatch, "2026-12-01")
    assert len(written(first)) == 2
    assert [w.reason for w in first.waiting] == ["daily cap of 2 reached: waits for tomorrow"]
    assert sorted(monthly_rows(workspace).values()) == ["listed", "written", "written"]
    assert digest(workspace, monkeypatch, "2026-12-01").count("written") == 0
    second = digest(workspace, monkeypatch, "2026-12-02")
    assert len(written(second)) == 1
    assert len(set(recipients(workspace))) == 3


def test_a_runs_count_of_the_month_is_the_ledger_as_the_run_left_it(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The month's rows by state, as the run reports them (read as delivery closes, issue
    11), are what the ledger holds after it: two written and one listed, then three written."""
    write_profile(workspace, daily_cap=2)
    write_sheet(
        workspace,
        PEOPLE,
        talks(
            *(
                f"2026-10-0{n},{x}@example.com,call,,,"
                for n, x in ((1, "ann"), (2, "bob"), (3, "cy"))
            )
        ),
    )
    for day, expected in (
        ("2026-12-01", {"listed": 1, "written": 2}),
        ("2026-12-02", {"written": 3}),
    ):
        report = digest(workspace, monkeypatch, day)
        with open_store(workspace) as con:
            after = month_counts(con, "2026-12")
        assert report.states == after == expected


def test_an_update_its_month_outlived_is_withdrawn_jan_31_to_feb_1(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap held Bob's January update on Jan 31: on Feb 1 it is withdrawn, not sent, and
    Bob gets February's instead; Ann, written to on Jan 31, is in February's quiet period."""
    write_profile(workspace, daily_cap=1)
    write_sheet(
        workspace,
        PEOPLE,
        talks("2026-12-01,ann@example.com,call,,,", "2026-12-02,bob@example.com,call,,,"),
    )
    january = digest(workspace, monkeypatch, "2027-01-31")
    assert written(january) == ["ann@example.com"]
    february = digest(workspace, monkeypatch, "2027-02-01")
    rows = monthly_rows(workspace)
    assert {k.rsplit(":", 1)[1]: v for k, v in rows.items() if v == "withdrawn"} == {
        "2027-01": "withdrawn"
    }
    assert written(february) == ["bob@example.com"]
    assert [o for o in february.outcomes if o.key.endswith(":2027-01")] == []
    assert "quiet period" in february.waiting[0].reason
    with pytest.raises(BreadcrumbsError, match="over"):
        run_digest(workspace, month="2027-01")


def test_a_first_that_is_a_saturday_leaves_the_decision_to_the_first_weekday_run(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """August 1, 2026 is a Saturday: Friday July 31 still belongs to July, and Monday
    August 3 is August's first run, measuring the quiet period from that day."""
    write_profile(workspace)
    write_sheet(
        workspace,
        PEOPLE,
        talks("2026-07-01,ann@example.com,call,,,", "2026-07-20,bob@example.com,call,,,"),
    )
    july = digest(workspace, monkeypatch, "2026-07-31")
    assert july.month == "2026-07" and written(july) == ["ann@example.com"]
    august = digest(workspace, monkeypatch, "2026-08-03")
    assert august.month == "2026-08" and august.first_run
    assert written(august) == ["bob@example.com"]  # 14 days since July 20; Ann wrote July 31


def test_an_opt_out_between_planning_and_delivery_stops_the_update(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob was listed on the first run (held by the cap) and opted out before the next."""
    write_profile(workspace, daily_cap=1)
    write_sheet(
        workspace,
        PEOPLE,
        talks("2026-10-01,ann@example.com,call,,,", "2026-10-02,bob@example.com,call,,,"),
    )
    assert written(digest(workspace, monkeypatch, "2026-12-01")) == ["ann@example.com"]
    with open_store(workspace) as con:
        opt_out(con, "bob@example.com")
    second = digest(workspace, monkeypatch, "2026-12-02")
    assert second.outcomes == []
    assert [w.reason for w in second.waiting] == ["opted out"]
    digest(workspace, monkeypatch, "2027-01-04")
    assert recipients(workspace) == ["ann@example.com", "ann@example.com"]
    assert "withdrawn" in monthly_rows(workspace).values()


def test_a_listed_update_the_user_skips_never_goes(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`breadcrumbs skip monthly:…` on someone the cap held back: not delivered later."""
    from breadcrumbs.store.ledger import skip

    write_profile(workspace, daily_cap=1)
    write_sheet(
        workspace,
        PEOPLE,
        talks("2026-10-01,ann@example.com,call,,,", "2026-10-02,bob@example.com,call,,,"),
    )
    assert written(digest(workspace, monkeypatch, "2026-12-01")) == ["ann@example.com"]
    (bob,) = [k for k, state in monthly_rows(workspace).items() if state == "listed"]
    with open_store(workspace) as con:
        skip(con, bob)
    assert digest(workspace, monkeypatch, "2026-12-02").outcomes == []
    assert recipients(workspace) == ["ann@example.com"]


def test_a_dry_run_lists_who_would_get_it_and_decides_nothing(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_profile(workspace)
    write_sheet(workspace, PEOPLE, talks("2026-10-01,ann@example.com,call,,,"))
    report = digest(workspace, monkeypatch, "2026-12-01", dry_run=True)
    assert [(o.to, o.state) for o in report.outcomes] == [("ann@example.com", "would send")]
    assert ledger(workspace) == {} and outbox(workspace) == []
    assert written(digest(workspace, monkeypatch, "2026-12-01")) == ["ann@example.com"]


@pytest.mark.parametrize("follow_up_first", [True, False], ids=["follow-up-first", "digest-first"])
def test_a_digest_and_a_follow_up_on_the_same_day_send_one_email_per_person(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, follow_up_first: bool
) -> None:
    """Ann's talk of Nov 30 is entered on Dec 1: whichever runs first writes to her, and
    the other leaves her alone that day."""
    write_profile(workspace)
    write_sheet(workspace, PEOPLE, talks("2026-10-01,ann@example.com,call,,,"))
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-01")
    if not follow_up_first:
        digest(workspace, monkeypatch, "2026-12-01")
    write_sheet(
        workspace,
        PEOPLE,
        talks("2026-10-01,ann@example.com,call,,,", "2026-11-30,ann@example.com,coffee,,,"),
    )
    sync(workspace)
    follow_up = run_follow_up(workspace)
    if follow_up_first:
        assert written(digest(workspace, monkeypatch, "2026-12-01")) == []
    else:
        assert "waits 3 days" in follow_up.waiting[0].reason
    assert recipients(workspace) == ["ann@example.com"]


PROSPECTS = """
    company,role,stage,referral_wanted,share,notes
    Polaris,Analytics Engineer,applied,yes,yes,PRIVATE-PROSPECT-NOTE
    Scioto,Staff Data Engineer,interviewing,no,yes,
    Hushco,Platform Engineer,offer-pending,yes,no,PRIVATE-SECRET-OFFER
    Gone Inc,Data Engineer,rejected,yes,yes,
"""


def test_each_personal_line_and_the_shared_activity_read_right(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Greeting by first name; thanks by name for each referral and what came of it; the
    last conversation's topic and when; activity in counts and companies; open shared
    prospects; a plain ask for referrals; nothing from notes or unshared prospects."""
    write_profile(workspace)
    contacts = PEOPLE + "    dee@example.com,Dee Fox,Hushco\n    eve@example.com,Eve Ng,Elm\n"
    write_sheet(
        workspace,
        contacts,
        talks(
            "2026-11-10,ann@example.com,coffee,dbt at Acme,PRIVATE-NOTE-1,Dee Fox; Eve Ng",
            "2026-11-20,dee@example.com,interview,the platform role,PRIVATE-NOTE-2,",
            "2026-10-02,bob@example.com,call,,,",
        ),
    )
    write_csv(workspace.root / "sheet" / "prospects.csv", PROSPECTS)
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    sync(workspace)
    run_follow_up(workspace)  # the intro to Eve Ng: "I wrote to them"
    report = digest(workspace, monkeypatch, "2026-12-01")
    assert written(report) == ["ann@example.com", "bob@example.com"]
    texts = {
        read_message(p)["To"].addresses[0].addr_spec: text_of(read_message(p))
        for p in outbox(workspace)
        if "monthly" in p.name
    }
    ann = texts["ann@example.com"]
    assert ann.startswith("Hi Ann,\n")
    assert "our conversation on Tuesday, November 10 about dbt at Acme" in ann
    assert "putting me in touch with Dee Fox: we talked on Friday, November 20" in ann
    assert "putting me in touch with Eve Ng: I wrote to them on Wednesday, November 25" in ann
    assert "2 conversations and met 2 new people, with people at Acme." in ann
    assert "2 new referrals" in ann and "1 interview." in ann
    assert "the Analytics Engineer role at Polaris (applied) and the Staff Data Engineer" in ann
    assert "If you know anyone at Polaris, I would be grateful for an introduction." in ann
    bob = texts["bob@example.com"]
    assert bob.startswith("Hi Bob,\n") and "since we talked on Friday, October 2" in bob
    assert "putting me in touch" not in bob and "Dee Fox" not in bob and "Eve Ng" not in bob
    for text in texts.values():
        assert "PRIVATE" not in text and "Hushco" not in text and "Gone Inc" not in text
        assert "|" not in text  # no tables in a note from a person


def test_the_cli_shows_this_months_updates_previews_one_and_runs_the_digest(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`due` says who is due and who waits and why; `preview monthly:…` shows one; a
    second `digest` says nothing is left."""
    from typer.testing import CliRunner

    from breadcrumbs.cli import app

    write_profile(workspace)
    write_sheet(
        workspace,
        PEOPLE,
        talks(
            "2026-10-01,ann@example.com,call,the data team,,", "2026-11-28,bob@example.com,call,,,"
        ),
    )
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-01")
    sync(workspace)
    ws = ["--workspace", str(workspace.root)]
    runner = CliRunner()
    due = runner.invoke(app, ["due", *ws])
    assert due.exit_code == 0, due.output
    assert "Monthly update 2026-12: not decided yet" in due.output
    assert "Ann Lee <ann@example.com>" in due.output
    assert (
        "Bob Stone: in the 14-day quiet period on the month's first run (touched 3 days ago"
        in due.output
    )
    key = next(
        k
        for k in __import__("json").loads(runner.invoke(app, ["due", "--json", *ws]).stdout)[
            "monthly"
        ]["due"]
    )["key"]
    shown = runner.invoke(app, ["preview", key, *ws])
    assert shown.exit_code == 0, shown.output
    assert "Subject: December update from Jordan" in shown.output
    assert "about the data team" in shown.output
    first = runner.invoke(app, ["digest", "--no-sync", *ws])
    assert first.exit_code == 0, first.output
    assert "decided now" in first.output and "written" in first.output
    again = runner.invoke(app, ["digest", "--no-sync", *ws])
    assert "nothing left to deliver" in again.output
    assert runner.invoke(app, ["digest", "--month", "2026-11", *ws]).exit_code != 0


def test_no_update_of_the_sample_carries_a_private_note_or_another_persons_name(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled sample, whose notes hold confidences ("an unposted platform role") and
    whose Worthington Bank prospect is marked not to share: every update names only its
    reader's referrals, and quotes no note of a contact, a conversation or a prospect."""
    from breadcrumbs.workspace import install_sample

    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    source = install_sample(workspace)
    from breadcrumbs.sync import run_sync

    run_sync(workspace, str(source))
    report = run_digest(workspace)
    assert report.count("written") >= 5
    with open_store(workspace) as con:
        names = {str(r[0]) for r in con.execute("SELECT name FROM contacts").fetchall()}
        notes = [
            str(r[0])
            for r in con.execute(
                "SELECT notes FROM contacts UNION ALL SELECT notes FROM interactions "
                "UNION ALL SELECT notes FROM prospects"
            ).fetchall()
            if r[0] and len(str(r[0])) > 12
        ]
    for path in outbox(workspace):
        message = read_message(path)
        text = text_of(message)
        thanked = {
            line.split("in touch with ", 1)[1].split(":", 1)[0]
            for line in text.splitlines()
            if "in touch with " in line
        }
        named = {n for n in names if n in text}
        assert named <= thanked, (message["To"], named - thanked)
        assert not [n for n in notes if n in text], message["To"]
        assert "Worthington" not in text and "offer" not in text.lower()
    marcus = next(
        text_of(read_message(p))
        for p in outbox(workspace)
        if "marcus" in str(read_message(p)["To"])
    )
    assert "putting me in touch with Sarah Goldberg: we talked on Saturday, October 31" in marcus


def test_an_update_deferred_one_day_leaves_the_next_composed_again_with_its_lines(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox could not be written on Dec 1: on Dec 2 the update is composed again (its
    Date of that day), keeping the referral line and the last conversation."""
    from tests.test_moments import block_outbox, unblock_outbox

    write_profile(workspace)
    write_sheet(
        workspace,
        PEOPLE,
        talks(
            "2026-10-01,ann@example.com,coffee,dbt at Acme,,Bob Stone",
            "2026-11-25,bob@example.com,call,,,",
        ),
    )
    block_outbox(workspace)
    first = digest(workspace, monkeypatch, "2026-12-01")
    assert [o.state for o in first.outcomes if o.to == "ann@example.com"] == ["deferred"]
    unblock_outbox(workspace)
    second = digest(workspace, monkeypatch, "2026-12-02")
    assert written(second) == ["ann@example.com"]
    (path,) = outbox(workspace)
    message = read_message(path)
    assert "2 Dec 2026" in message["Date"]
    text = text_of(message)
    assert "our conversation on Thursday, October 1 about dbt at Acme" in text
    assert "putting me in touch with Bob Stone: we talked on Wednesday, November 25" in text


def test_an_outbox_update_is_kept_in_its_file_and_delivered_as_composed_even_by_a_later_process(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: in the outbox mode the ledger keeps each update's file name, not the
    message; the deliver stage takes the messages compose held. If they are lost (a flow
    whose stages ran in other processes), each is composed again as of its planned_at: the
    files are what compose made, even an hour later."""
    from datetime import timedelta

    from breadcrumbs import clock
    from breadcrumbs import digest as digest_module
    from breadcrumbs.digest import DigestStages, deliver_stage
    from breadcrumbs.store import ledger as ledger_module
    from tests.follow_up_support import sql

    write_profile(workspace)
    write_sheet(workspace, PEOPLE, talks("2026-11-02,ann@example.com,call,,,"))
    made: dict[str, bytes] = {}
    hold = ledger_module.hold

    def spy(root: object, emails: Any) -> None:
        emails = list(emails)
        made.update((e.key, e.raw) for e in emails)
        hold(root, emails)

    monkeypatch.setattr(digest_module, "hold", spy)
    later = clock.now() + timedelta(hours=1)

    def deliver_later(*args: Any, **kwargs: Any) -> Any:
        ledger_module.take_held(workspace.root)  # lost, as in another process
        monkeypatch.setattr(clock, "now", lambda: later)
        return deliver_stage(*args, **kwargs)

    report = digest(
        workspace, monkeypatch, "2026-12-20", stages=DigestStages(deliver=deliver_later)
    )
    assert written(report) == ["ann@example.com"] and len(made) == 1
    rows = sql(workspace, "SELECT key, raw, provider_id FROM messages")
    assert [(r[0], r[1]) for r in rows] == [(next(iter(made)), None)]
    assert [p.name for p in outbox(workspace)] == [rows[0][2]]
    assert outbox(workspace)[0].read_bytes() == b"X-Unsent: 1\r\n" + made[rows[0][0]]


@pytest.mark.parametrize("mode", ["outbox", "drafts"])
def test_the_rows_a_digest_fills_are_the_rows_the_ledger_reads_back(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Issue 11: roster.fill_listed returns each row it filled as ledger.rows_in reads it
    back (delivery on the same connection takes them instead of reading them); a row
    already planned is not filled again and not returned."""
    from breadcrumbs.digest import compose_stage, detect_stage, parse_month
    from breadcrumbs.follow_up import load_checked_profile
    from breadcrumbs.store import ledger as ledger_module
    from breadcrumbs.store.ledger import WAITING, rows_in
    from breadcrumbs.store.roster import fill_listed

    write_profile(workspace)
    write_sheet(
        workspace,
        PEOPLE,
        talks(
            "2026-11-02,ann@example.com,call,Acme's data team,,",
            "2026-11-03,bob@example.com,coffee,,,",
            "2026-11-04,cy@example.com,video,,,",
        ),
    )
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-01")
    sync(workspace)
    profile = load_checked_profile(workspace)
    month = parse_month(None)
    due = list(detect_stage(workspace, profile, month).due)
    filled: list[Any] = []
    fill = fill_listed

    def spy(con: Any, batch: Any, mode: str) -> Any:
        first = fill(con, batch[:1], mode)  # one row filled already: not filled again
        filled.extend(fill(con, batch, mode))
        assert [r.key for r in first] == [batch[0].email.key]
        filled.extend(first)
        return filled

    monkeypatch.setattr("breadcrumbs.digest.fill_listed", spy)
    compose_stage(workspace, profile, due, mode)
    ledger_module.take_planned(workspace.root, cast(Any, None))  # not delivered here
    with open_store(workspace) as con:
        back = rows_in(con, WAITING, [mode])
    assert len(back) == 3
    assert sorted(filled, key=lambda r: r.key) == sorted(back, key=lambda r: r.key)


def test_an_update_withdrawn_between_its_compose_and_its_delivery_does_not_go(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: delivery on the compose stage's own connection takes the rows compose
    recorded, but not one that its opening statements changed since: Cy opted out in the
    sheet between the two (so the ledger withdraws the update), Bob's address moved (so it
    is composed again for the new address)."""
    from breadcrumbs.digest import DigestStages, compose_stage, deliver_stage
    from breadcrumbs.store.database import one_opening
    from tests.follow_up_support import sql

    write_profile(workspace)
    write_sheet(
        workspace,
        PEOPLE,
        talks(
            "2026-11-02,ann@example.com,call,,,",
            "2026-11-03,bob@example.com,coffee,,,",
            "2026-11-04,cy@example.com,video,,,",
        ),
    )

    def compose_then_change(*args: Any) -> Any:
        done = compose_stage(*args)
        with open_store(workspace) as con:
            con.execute("UPDATE contacts SET opt_out = true WHERE email = 'cy@example.com'")
            con.execute(
                "UPDATE contacts SET email = 'bob@birch.example' WHERE email = 'bob@example.com'"
            )
        return done

    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-01")
    sync(workspace)
    with one_opening(workspace):
        report = run_digest(
            workspace,
            stages=DigestStages(compose=compose_then_change, deliver=deliver_stage),
        )
    assert written(report) == ["ann@example.com", "bob@birch.example"]
    states = dict(sql(workspace, "SELECT email, state FROM messages"))
    assert states == {
        "ann@example.com": "written",
        "bob@birch.example": "written",
        "cy@example.com": "failed",
    }
    assert "To: Bob Stone <bob@birch.example>" in "".join(p.read_text() for p in outbox(workspace))
