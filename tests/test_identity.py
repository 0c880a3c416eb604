"""Who is who (issue #8, defect 1): a person keeps one identity when the sheet changes their
address or fixes the spelling of their name, so an edited row is never thanked twice; an
ambiguous match is a reject, never a guess (breadcrumbs/store/identity.py)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from breadcrumbs.google.mailbox import Bounce, Touch, record
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store, trail
from breadcrumbs.store.ledger import opt_out
from breadcrumbs.sync import run_sync
from tests.follow_up_support import (
    INTERACTIONS_HEADER,
    ledger,
    play,
    recipients,
    sql,
    states,
    waiting_reason,
    write_profile,
    write_sheet,
)
from tests.test_moments import block_outbox, unblock_outbox

CONTACTS_HEADER = "email,name,company,referred_by"
COFFEE = "2026-11-24,Ann Lee,coffee,data platforms,,"
LATER_CALL = "2026-11-30,Ann Lee,call,the platform team,,"


@pytest.fixture
def search(workspace: Workspace) -> Workspace:
    write_profile(workspace)
    return workspace


def sheet(workspace: Workspace, contacts: list[str], conversations: list[str]) -> None:
    write_sheet(
        workspace,
        "\n".join([CONTACTS_HEADER, *contacts]),
        "\n".join([INTERACTIONS_HEADER, *conversations]),
    )


def person_ids(workspace: Workspace) -> dict[str, str]:
    """Address -> person id, as the sheet's contacts are loaded now."""
    rows = sql(workspace, "SELECT lower(email), contact_id FROM contacts WHERE email IS NOT NULL")
    return dict(rows)


def test_a_changed_address_is_not_thanked_again_and_gets_the_next_email(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Day 1 Ann is thanked; day 2 her address changes: no second thank-you for the same
    coffee, and her next conversation is thanked at the new address."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    assert states(play(search, monkeypatch, "2026-11-25")) == {"ann@example.com": "written"}
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [COFFEE])
    second = play(search, monkeypatch, "2026-11-26")
    assert second.outcomes == []
    assert recipients(search) == ["ann@example.com"]
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [COFFEE, LATER_CALL])
    third = play(search, monkeypatch, "2026-12-01")
    assert states(third) == {"ann@newjob.example": "written"}
    assert recipients(search) == ["ann@example.com", "ann@newjob.example"]
    assert person_ids(search) == {"ann@newjob.example": "e:ann@example.com"}


def test_a_fixed_spelling_keeps_the_person_for_a_later_address_change(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixed name is the name the person is known by: when the address changes next,
    the person is found by the corrected name, and the coffee is not thanked again."""
    sheet(search, ["ann@example.com,Anne Lee,Acme,"], [COFFEE.replace("Ann Lee", "Anne Lee")])
    play(search, monkeypatch, "2026-11-25")
    sheet(search, ["ann@example.com,Ann Lée,Acme,"], [COFFEE])
    assert play(search, monkeypatch, "2026-11-26").outcomes == []
    sheet(search, ["ann@newjob.example,ANN  LEE,Newjob,"], [COFFEE])
    assert play(search, monkeypatch, "2026-11-27").outcomes == []
    assert recipients(search) == ["ann@example.com"]
    assert person_ids(search) == {"ann@newjob.example": "e:ann@example.com"}


def test_a_row_whose_email_and_name_both_changed_is_a_new_person(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing ties the edited row to Ann: it is someone new, with an id of their own.

    A guard, not a defect: matching more loosely would hand one person's ledger to another.
    """
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    play(search, monkeypatch, "2026-11-25")
    sheet(search, ["bea@example.com,Bea Cruz,Acme,"], [COFFEE.replace("Ann Lee", "Bea Cruz")])
    report = play(search, monkeypatch, "2026-11-26")
    assert states(report) == {"bea@example.com": "written"}
    assert person_ids(search) == {"bea@example.com": "e:bea@example.com"}


def test_two_people_who_could_be_the_row_are_a_reject_naming_both(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two John Smiths both change address in one edit: each row could be either, so both
    are refused, naming both candidates, and nobody is emailed."""
    sheet(search, ["j1@example.com,John Smith,A,", "j2@example.com,John Smith,B,"], [])
    play(search, monkeypatch, "2026-11-25")
    sheet(
        search,
        ["j1@new.example,John Smith,A,", "j2@new.example,John Smith,B,"],
        ["2026-11-25,j1@new.example,call,,,"],
    )
    report = play(search, monkeypatch, "2026-11-26")
    assert report.outcomes == []
    rejects = sql(search, 'SELECT "row", "column", reason FROM rejects ORDER BY "row"')
    contact_rows = [r for r in rejects if r[1] == "name"]
    assert [r[0] for r in contact_rows] == [2, 3]
    for _, _, reason in contact_rows:
        assert reason.startswith("ambiguous person")
        assert "John Smith <j1@example.com>" in reason
        assert "John Smith <j2@example.com>" in reason
    assert [(r[0], r[1]) for r in rejects if r[1] == "contact"] == [(2, "contact")]
    assert sql(search, "SELECT count(*) FROM contacts") == [(0,)]


def test_seven_people_who_could_be_the_row_are_named_five_and_two_others(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven John Smiths all change address in one edit: each row's reject names five of
    the people it could be and counts the other two, so the line stays readable."""
    sheet(search, [f"j{i}@example.com,John Smith,{i}," for i in range(7)], [])
    play(search, monkeypatch, "2026-11-25")
    sheet(search, [f"j{i}@new.example,John Smith,{i}," for i in range(7)], [])
    play(search, monkeypatch, "2026-11-26")
    reasons = [r[0] for r in sql(search, "SELECT reason FROM rejects WHERE \"column\" = 'name'")]
    assert len(reasons) == 7
    for reason in reasons:
        assert reason.startswith("ambiguous person: could be John Smith <j")
        assert reason.count("John Smith <") == 5
        assert " or 2 others, whose addresses left the sheet since the last sync" in reason


def test_two_rows_that_could_each_be_one_person_are_refused_until_the_user_says_which(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann's row becomes two Ann Lee rows with new addresses: neither inherits her thank-you
    until one row is synced once with her old address; then the other is someone new."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    play(search, monkeypatch, "2026-11-25")
    two = ["ann@newjob.example,Ann Lee,Newjob,", "ann@other.example,Ann Lee,Other,"]
    sheet(search, two, ["2026-11-24,ann@newjob.example,coffee,,,"])
    assert play(search, monkeypatch, "2026-11-26").outcomes == []
    reasons = [r for (r,) in sql(search, "SELECT reason FROM rejects WHERE \"column\" = 'name'")]
    assert len(reasons) == 2
    assert all("could each be Ann Lee <ann@example.com>" in r for r in reasons)
    # The next day the candidates are still candidates: still refused, still nothing sent.
    assert play(search, monkeypatch, "2026-11-27").outcomes == []
    # The user says which: Ann's old address back in her row for one sync.
    sheet(
        search,
        ["ann@example.com,Ann Lee,Newjob,", "ann@other.example,Ann Lee,Other,"],
        ["2026-11-24,ann@example.com,coffee,,,"],
    )
    play(search, monkeypatch, "2026-11-28")
    sheet(search, two, ["2026-11-24,ann@newjob.example,coffee,,,"])
    play(search, monkeypatch, "2026-11-29")
    assert person_ids(search) == {
        "ann@newjob.example": "e:ann@example.com",
        "ann@other.example": "e:ann@other.example",
    }
    assert recipients(search) == ["ann@example.com"]


def test_an_opt_out_survives_an_address_change(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann opted out on the command line at her old address: her new one is opted out too."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    play(search, monkeypatch, "2026-11-25")
    with open_store(search) as con:
        opt_out(con, "ann@example.com")
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [COFFEE, LATER_CALL])
    report = play(search, monkeypatch, "2026-12-01")
    assert report.outcomes == []
    assert waiting_reason(report, "ann@newjob.example") == "opted out"


def test_an_introduced_person_whose_address_changes_is_not_introduced_again(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob, referred by Ann, got his intro; his new address gets no second one, and his
    referral trail still leads back to Ann."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,", "bob@example.com,Bob Stone,Beta,Ann Lee"], [])
    assert states(play(search, monkeypatch, "2026-11-25")) == {"bob@example.com": "written"}
    sheet(search, ["ann@example.com,Ann Lee,Acme,", "bob@beta.example,Bob Stone,Beta,Ann Lee"], [])
    assert play(search, monkeypatch, "2026-12-01").outcomes == []
    assert list(ledger(search)) == ["intro:e:bob@example.com"]
    with open_store(search) as con:
        names = [name for _, name, _ in trail(con, "e:bob@example.com")]
    assert names == ["Bob Stone", "Ann Lee"]


def test_a_bounce_belongs_to_the_old_address_not_the_person(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann's old address bounced; her new one is mailable, and still her: the coffee is not
    thanked again, her next conversation is."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    play(search, monkeypatch, "2026-11-25")
    with open_store(search) as con:
        record(con, [], [Bounce("ann@example.com", "550 5.1.1 no such user", date(2026, 11, 26))])
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [COFFEE])
    assert play(search, monkeypatch, "2026-11-26").outcomes == []
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [COFFEE, LATER_CALL])
    report = play(search, monkeypatch, "2026-12-01")
    assert states(report) == {"ann@newjob.example": "written"}
    assert recipients(search) == ["ann@example.com", "ann@newjob.example"]


def test_a_resync_of_the_same_sheet_keeps_who_is_who(search: Workspace) -> None:
    """The identity tables say the same after a second sync of an unchanged sheet."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,", ",Cy Phone,Gamma,"], [COFFEE])
    source = str(search.root / "sheet")
    run_sync(search, source)
    before = sql(search, "SELECT * FROM people ORDER BY 1"), sql(search, "SELECT * FROM addresses")
    run_sync(search, source)
    after = sql(search, "SELECT * FROM people ORDER BY 1"), sql(search, "SELECT * FROM addresses")
    assert after == before


def test_an_old_address_that_comes_back_as_someone_else_is_a_new_person(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann moved on; her old address now belongs to Andy, a new person with an id of his
    own: his call is thanked, and Ann keeps her ledger."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    play(search, monkeypatch, "2026-11-25")
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [COFFEE])
    play(search, monkeypatch, "2026-11-26")
    andy_call = "2026-11-30,Andy Roe,call,,,"
    sheet(
        search,
        ["ann@newjob.example,Ann Lee,Newjob,", "ann@example.com,Andy Roe,Acme,"],
        [COFFEE, andy_call],
    )
    report = play(search, monkeypatch, "2026-12-01")
    assert states(report) == {"ann@example.com": "written"}
    assert person_ids(search) == {
        "ann@newjob.example": "e:ann@example.com",
        "ann@example.com": "e:ann@example.com#2",
    }


def test_someone_who_left_the_sheet_is_not_found_again_by_name_alone(
    search: Workspace,
) -> None:
    """Ann left the sheet; a later row of the same name at another address is matched by
    name only among the sheet's people, so it is someone new, not Ann with a new address."""
    source = str(search.root / "sheet")
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    run_sync(search, source)
    sheet(search, ["bo@example.com,Bo Chen,Beta,"], [])
    run_sync(search, source)
    sheet(search, ["bo@example.com,Bo Chen,Beta,", "ann@other.example,Ann Lee,Other,"], [])
    run_sync(search, source)
    assert person_ids(search) == {
        "bo@example.com": "e:bo@example.com",
        "ann@other.example": "e:ann@other.example",
    }


def test_mail_exchanged_at_an_old_address_is_still_a_touch_of_the_person(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann wrote from her old address last week: after her address changes she is not on
    the call list as never contacted."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [])
    play(search, monkeypatch, "2026-11-25")
    with open_store(search) as con:
        record(con, [Touch("m1", "ann@example.com", "in", date(2026, 11, 20), "Hello")], [])
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [])
    report = play(search, monkeypatch, "2026-11-26")
    assert [(c.email, c.last_touch) for c in report.cold] == []


def test_a_referral_that_still_names_an_old_address_is_the_person_who_moved(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob's row says he was referred by ann@example.com; Ann's own row moves to a new
    address and Bob's cell is left as it was: the old address is still Ann, not someone
    new who takes her identity, so her coffee is not thanked again and Bob's trail holds."""
    bob = "bob@example.com,Bob Stone,Beta,ann@example.com"
    sheet(search, ["ann@example.com,Ann Lee,Acme,", bob], [COFFEE])
    assert sorted(states(play(search, monkeypatch, "2026-11-25"))) == [
        "ann@example.com",
        "bob@example.com",
    ]
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,", bob], [COFFEE])
    report = play(search, monkeypatch, "2026-11-26")
    assert report.outcomes == []
    assert person_ids(search) == {
        "ann@newjob.example": "e:ann@example.com",
        "bob@example.com": "e:bob@example.com",
    }
    with open_store(search) as con:
        names = [name for _, name, _ in trail(con, "e:bob@example.com")]
    assert names == ["Bob Stone", "Ann Lee"]


@pytest.mark.parametrize("next_day", ["2026-11-25", "2026-11-26"], ids=["same day", "next day"])
def test_an_email_waiting_when_the_address_changes_goes_to_the_new_one(
    search: Workspace, monkeypatch: pytest.MonkeyPatch, next_day: str
) -> None:
    """Ann's thank-you could not be written; before it could, her address changed and the
    old one bounced: it goes to her new address, once, and is not withdrawn."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    block_outbox(search)
    first = play(search, monkeypatch, "2026-11-25")
    assert [o.state for o in first.outcomes] == ["deferred"]
    unblock_outbox(search)
    with open_store(search) as con:
        record(con, [], [Bounce("ann@example.com", "550 5.1.1 no such user", date(2026, 11, 25))])
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [COFFEE])
    second = play(search, monkeypatch, next_day)
    assert states(second) == {"ann@newjob.example": "written"}
    assert recipients(search) == ["ann@newjob.example"]
    assert sql(search, "SELECT lower(email), state FROM messages") == [
        ("ann@newjob.example", "written")
    ]


def test_a_thank_you_the_user_wrote_to_the_old_address_is_not_sent_again_to_the_new(
    search: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user thanked Ann themselves, at her old address, the evening of the coffee: after
    her address changes, Breadcrumbs still knows the coffee was thanked."""
    sheet(search, ["ann@example.com,Ann Lee,Acme,"], [COFFEE])
    evening = datetime(2026, 11, 24, 19, 0)
    run_sync(search, str(search.root / "sheet"))
    with open_store(search) as con:
        record(con, [Touch("m1", "ann@example.com", "out", evening.date(), "Thanks", evening)], [])
    assert play(search, monkeypatch, "2026-11-25").outcomes == []
    sheet(search, ["ann@newjob.example,Ann Lee,Newjob,"], [COFFEE])
    assert play(search, monkeypatch, "2026-11-26").outcomes == []
    assert recipients(search) == []
