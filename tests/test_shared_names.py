"""Two contacts with the same name (issue #8, defect 5): a conversation or referral that
names them by that name is refused, naming both by email, never given to the first one
(breadcrumbs/validate.py), as `breadcrumbs sync` and `breadcrumbs rejects` show it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from breadcrumbs.cli import app
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from tests.follow_up_support import sql, write_profile, write_sheet

TWO_JOHNS = """
    email,name,company,referred_by
    john@acme.example,John Smith,Acme,
    jsmith@beta.example,john  SMITH,Beta,
    ann@example.com,Ann Lee,Gamma,
    """


@pytest.fixture(autouse=True)
def no_prefect_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")


def breadcrumbs(workspace: Workspace, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--workspace", str(workspace.root)])


def sync_and_list_rejects(workspace: Workspace) -> str:
    synced = breadcrumbs(workspace, "sync", str(workspace.root / "sheet"))
    assert synced.exit_code == 0, synced.output
    assert "ambiguous name" in synced.stdout
    listed = breadcrumbs(workspace, "rejects")
    assert listed.exit_code == 0, listed.output
    return listed.stdout


def test_a_conversation_logged_by_a_shared_name_is_refused_naming_both(
    workspace: Workspace,
) -> None:
    """The coffee is not given to the first John Smith: it is a reject that names both
    Johns by email, and nobody is thanked for it."""
    write_profile(workspace)
    write_sheet(
        workspace,
        TWO_JOHNS,
        """
        date,contact,kind,topic,notes,referrals
        2026-11-24,John Smith,coffee,,,
        2026-11-24,jsmith@beta.example,call,,,
        """,
    )
    listed = sync_and_list_rejects(workspace)
    line = next(row for row in listed.splitlines() if "ambiguous name" in row)
    assert "row 2, column contact: 'John Smith'" in line
    assert "john@acme.example" in line and "jsmith@beta.example" in line
    assert "write the email to say which" in line
    report = run_follow_up(workspace)
    assert [(o.to, o.kind) for o in report.outcomes] == [("jsmith@beta.example", "thank-you")]


@pytest.mark.parametrize(
    ("contacts_extra", "conversation"),
    [
        ("bob@example.com,Bob Stone,Delta,John Smith", ""),
        ("", "2026-11-24,Ann Lee,coffee,,,John Smith"),
    ],
    ids=["referred_by", "referrals cell"],
)
def test_a_referral_by_a_shared_name_is_refused_naming_both(
    workspace: Workspace, contacts_extra: str, conversation: str
) -> None:
    """A referral by a shared name records no referral (no intro says "referred by" the
    wrong John, and no John gets one), and says which cell to fix."""
    write_profile(workspace)
    write_sheet(
        workspace,
        TWO_JOHNS + contacts_extra,
        "date,contact,kind,topic,notes,referrals\n" + conversation,
    )
    listed = sync_and_list_rejects(workspace)
    line = next(row for row in listed.splitlines() if "ambiguous name" in row)
    assert "john@acme.example" in line and "jsmith@beta.example" in line
    assert "(the row loaded without this value)" in line
    assert sql(workspace, "SELECT count(*) FROM referrals") == [(0,)]
    report = run_follow_up(workspace)
    assert all(o.kind != "intro" for o in report.outcomes)


TWELVE_SAMS = (
    "email,name,company,referred_by\n"
    + "".join(f"sam{i}@example.com,Sam Lee,Co {i},\n" for i in range(1, 13))
    + "ann@example.com,Ann Lee,Gamma,Sam Lee\n"
)


@pytest.mark.parametrize("set_wise", [True, False], ids=["set-wise", "row by row"])
def test_a_name_twelve_contacts_share_names_five_of_them_and_counts_the_rest(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, set_wise: bool
) -> None:
    """A reject's reason stays a readable line however many people share a name: the first
    five by email and row, then "and 7 others", the count of all twelve, and what to do."""
    from breadcrumbs.sources import read

    if not set_wise:
        monkeypatch.setattr(read, "stage_csv", lambda *_: None)
    write_profile(workspace)
    write_sheet(
        workspace,
        TWELVE_SAMS,
        "date,contact,kind,topic,notes,referrals\n"
        "2026-11-24,Sam Lee,coffee,,,\n"
        "2026-11-24,Ann Lee,call,,,sam  lee\n",
    )
    listed = sync_and_list_rejects(workspace)
    five = ", ".join(f"sam{i}@example.com (contacts.csv row {i + 1})" for i in range(1, 6))
    said = "12 contacts are named {!r}: " + five + " and 7 others; write the email to say which"
    assert sql(workspace, 'SELECT file, "row", "column", reason FROM rejects ORDER BY ALL') == [
        ("contacts.csv", 14, "referred_by", "ambiguous name: " + said.format("Sam Lee")),
        ("interactions.csv", 2, "contact", "ambiguous name: " + said.format("Sam Lee")),
        ("interactions.csv", 3, "referrals", "ambiguous name: " + said.format("sam  lee")),
    ]
    assert "sam6@example.com" not in listed and "and 7 others" in listed
