"""The networking funnel (`breadcrumbs stats`): each figure counted on a small search played
day by day on the real store (breadcrumbs/stats.py)."""

from __future__ import annotations

import json

import pytest

from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from tests.follow_up_support import sql, sync, write_profile, write_sheet

PEOPLE = """
    email,name,referred_by
    ann@example.com,Ann Lee,
    bob@example.com,Bob Stone,
    cy@example.com,Cy Park,
    dee@example.com,Dee Fox,
"""


def test_the_funnel_counts_each_step_of_the_method(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann (thanked on time, replied) sent me to Bob (an intro that became a talk), who sent
    me to Dee; Bob's thank-you was never written, Cy's was withdrawn."""
    from typer.testing import CliRunner

    from breadcrumbs.cli import app

    write_profile(workspace)
    write_sheet(
        workspace,
        PEOPLE,
        "date,contact,kind,topic,notes,referrals\n"
        "2026-10-01,cy@example.com,call,,,\n"
        "2026-11-19,ann@example.com,coffee,,,Bob Stone",
    )
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-20")
    sync(workspace)
    assert run_follow_up(workspace).count("written") == 2  # Ann's thank-you, Bob's intro
    write_sheet(
        workspace,
        PEOPLE,
        "date,contact,kind,topic,notes,referrals\n"
        "2026-10-01,cy@example.com,call,,,\n"
        "2026-11-19,ann@example.com,coffee,,,Bob Stone\n"
        "2026-11-21,cy@example.com,call,,,\n"
        "2026-11-24,bob@example.com,video,,,Dee Fox",
    )
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-30")
    sync(workspace)
    (cy_talk,) = sql(
        workspace, "SELECT interaction_id FROM interactions WHERE date = '2026-11-21'"
    )[0]
    sql(
        workspace,
        "INSERT INTO messages (key, kind, state, planned_on) "
        "VALUES ('thank-you:' || ?, 'thank-you', 'withdrawn', '2026-11-21')",
        [cy_talk],
    )
    sql(
        workspace,
        "INSERT INTO mailbox_touches (provider_id, email, direction, touched_on, subject) "
        "VALUES ('r1', 'ann@example.com', 'in', '2026-11-22', 'Re')",
    )
    result = CliRunner().invoke(app, ["stats", "--json", "--workspace", str(workspace.root)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "month": "2026-11",
        "people_listed": 4,
        "contacted": 3,
        "conversations_this_month": 3,
        "conversations_in_all": 4,
        "referrals_this_month": 2,
        "referrals_in_all": 2,
        "referrals_per_conversation": 0.5,
        "intros_sent": 1,
        "intros_became_conversations": 1,
        "replies": 1,
        "thank_yous_on_time": 1,
        "thank_yous_missed_withdrawn": 1,
        "thank_yous_missed_never_written": 1,
        "monthly_updates_delivered": 0,
        "longest_trail": ["Ann Lee", "Bob Stone", "Dee Fox"],
    }
    text = CliRunner().invoke(app, ["stats", "--workspace", str(workspace.root)]).output
    assert "0.5 referrals gained per conversation" in text
    assert "1 intros sent, 1 became conversations (100%)" in text
    assert "The longest trail (2 referrals): Ann Lee → Bob Stone → Dee Fox" in text
    october = CliRunner().invoke(
        app, ["stats", "--month", "2026-10", "--json", "--workspace", str(workspace.root)]
    )
    assert json.loads(october.stdout)["conversations_this_month"] == 1
