"""The follow-up commands: follow-up, due, preview, status, opt-out, skip and profile check
(breadcrumbs/cli.py), through typer's CliRunner on a real workspace."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from breadcrumbs.cli import app
from breadcrumbs.settings import Workspace
from breadcrumbs.workspace import SAMPLE_DIR
from tests.conftest import write_csv
from tests.follow_up_support import (
    ledger,
    outbox,
    recipients,
    sql,
    write_profile,
    write_sheet,
)

runner = CliRunner()
PEOPLE = """
    email,name,company,opt_out
    ann@example.com,Ann Lee,Acme,
    hal@example.com,Hal Moss,Initech,yes
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-11-24,ann@example.com,coffee,dbt at Acme,,Bob Stone <bob@example.com>
    2026-11-24,hal@example.com,call,,,
"""
ANN_KEY_SQL = "SELECT 'thank-you:' || interaction_id FROM interactions WHERE contact_id = ?"


@pytest.fixture(autouse=True)
def no_prefect_server(monkeypatch: pytest.MonkeyPatch, today: str) -> None:
    """These run the plain path on 2026-11-25; the Prefect flow has its own test."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)


@pytest.fixture
def network(workspace: Workspace) -> Workspace:
    """Ann (coffee yesterday, referred Bob) and Hal (opted out in the sheet)."""
    write_profile(workspace)
    write_sheet(workspace, PEOPLE, TALKS)
    assert breadcrumbs(workspace, "sync", str(workspace.root / "sheet")).exit_code == 0
    return workspace


def breadcrumbs(workspace: Workspace, *args: str) -> Result:
    # A wide terminal, so that rich neither wraps paths nor cuts cells short.
    return runner.invoke(app, [*args, "--workspace", str(workspace.root)], env={"COLUMNS": "250"})


def ann_key(workspace: Workspace) -> str:
    return str(sql(workspace, ANN_KEY_SQL, ["e:ann@example.com"])[0][0])


def test_follow_up_prints_a_table_and_where_the_files_are(network: Workspace) -> None:
    """The sync summary, a table of what was written, the outbox folder, who waits."""
    result = breadcrumbs(network, "follow-up", "--no-prefect")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "loaded: 3 contacts" in out
    assert "Follow-up (outbox)" in out
    assert "Thanks for the coffee, Ann" in out and "Ann Lee suggested I reach out" in out
    assert "2 written" in out
    assert f"Emails are in {network.outbox}" in out
    assert "1 waiting or skipped" in out
    assert "going cold" not in out  # Bob's intro is a touch: nobody is left to call
    assert recipients(network) == ["ann@example.com", "bob@example.com"]


def test_follow_up_dry_run_refreshes_the_store_and_writes_nothing(network: Workspace) -> None:
    """--dry-run syncs the sheet's latest (Cy appears) but no ledger row and no file."""
    write_sheet(
        network,
        PEOPLE + "cy@example.com,Cy Park,Globex,\n",
        TALKS + "2026-11-25,cy@example.com,call,,,\n",
    )
    result = breadcrumbs(network, "follow-up", "--dry-run", "--no-prefect")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout and "would write" in result.stdout
    assert "cy@example.com" in result.stdout
    assert sql(network, "SELECT name FROM contacts WHERE email = 'cy@example.com'") == [
        ("Cy Park",)
    ]
    assert ledger(network) == {}
    assert outbox(network) == []


def test_follow_up_limit_delivers_that_many(network: Workspace) -> None:
    """--limit 1 of two due: one file now, the other on the next run."""
    result = breadcrumbs(network, "follow-up", "--limit", "1", "--no-prefect")
    assert result.exit_code == 0, result.output
    assert len(outbox(network)) == 1
    assert breadcrumbs(network, "follow-up", "--no-prefect").exit_code == 0
    assert len(outbox(network)) == 2


def test_follow_up_shows_the_reason_a_template_failed(network: Workspace) -> None:
    """An override template that cannot fill: the email is skipped and the table says why."""
    network.templates.mkdir()
    (network.templates / "thank-you.md.j2").write_text(
        "Subject: Hi {{ contact.nickname }}\n\nHello\n", encoding="utf-8"
    )
    result = breadcrumbs(network, "follow-up", "--no-prefect")
    assert result.exit_code == 0, result.output
    assert "skipped" in result.stdout and "nickname" in result.stdout
    assert recipients(network) == ["bob@example.com"]  # the intro went all the same


def test_follow_up_in_send_mode_without_yes_or_a_terminal_refuses(network: Workspace) -> None:
    """--mode send sends real email: without --yes, and nobody at a terminal, it stops."""
    result = breadcrumbs(network, "follow-up", "--mode", "send", "--no-prefect")
    assert result.exit_code != 0
    assert "add --yes" in result.output
    assert ledger(network) == {}


def test_follow_up_refuses_an_unknown_mode(network: Workspace) -> None:
    """A typo in --mode is an error, not a silent outbox run."""
    result = breadcrumbs(network, "follow-up", "--mode", "smtp", "--no-prefect")
    assert result.exit_code == 2
    assert "'smtp' is not one of 'outbox', 'drafts', 'send'" in result.output


def test_due_json_lists_due_waiting_and_going_cold(network: Workspace) -> None:
    """Valid JSON: what is due and why, what waits and why, and whom to call."""
    result = breadcrumbs(network, "due", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"due", "waiting", "monthly", "going_cold"}
    assert {(d["kind"], d["to"]) for d in data["due"]} == {
        ("thank-you", "ann@example.com"),
        ("intro", "bob@example.com"),
    }
    assert {d["why"] for d in data["due"]} == {
        "coffee on 2026-11-24",
        "referred by Ann Lee, never contacted",
    }
    assert [(w["to"], w["why"]) for w in data["waiting"]] == [("hal@example.com", "opted out")]
    assert data["going_cold"] == []  # Bob is due an intro: written to, not called
    assert ledger(network) == {}  # listing what is due changes nothing


def test_due_in_words_says_what_and_why(network: Workspace) -> None:
    """The plain listing names each email, its reason and its key."""
    result = breadcrumbs(network, "due")
    assert result.exit_code == 0, result.output
    assert "Due now (2):" in result.stdout
    assert "[intro:e:bob@example.com]" in result.stdout
    assert "Hal Moss: opted out" in result.stdout
    assert "Going cold: call these people (0):" in result.stdout


def test_preview_shows_headers_and_body_before_and_after_delivery(network: Workspace) -> None:
    """From, To, Subject, Date, the attachment and the text; --html shows the HTML part."""
    before = breadcrumbs(network, "preview", "intro:e:bob@example.com")
    assert before.exit_code == 0, before.output
    out = before.stdout
    assert "From: Jordan Rivera <jordan@example.com>" in out
    assert "To: Bob Stone <bob@example.com>" in out
    assert "Subject: Ann Lee suggested I reach out" in out
    assert "Attached: Jordan Rivera.vcf" in out
    assert "You were referred to me by Ann Lee at Acme" in out
    assert ledger(network) == {}

    assert breadcrumbs(network, "follow-up", "--no-prefect", "--no-sync").exit_code == 0
    after = breadcrumbs(network, "preview", "intro:e:bob@example.com", "--html")
    assert after.exit_code == 0, after.output
    assert "<p>You were referred to me by Ann Lee at Acme" in after.stdout


def test_an_outbox_row_keeps_its_file_name_not_its_message_and_preview_still_shows_it(
    network: Workspace,
) -> None:
    """Issue 11: in the outbox mode the file is the message; the ledger keeps its name. The
    preview of a written email reads its file, and once the file is gone (sent by hand), is
    the same message composed again from the Due the ledger kept."""
    assert breadcrumbs(network, "follow-up", "--no-prefect", "--no-sync").exit_code == 0
    rows = sql(network, "SELECT key, raw, provider_id FROM messages ORDER BY key")
    files = sorted(p.name for p in outbox(network))
    assert [r[1] for r in rows] == [None, None]
    assert sorted(r[2] for r in rows) == files
    key = "intro:e:bob@example.com"
    shown = breadcrumbs(network, "preview", key)
    assert shown.exit_code == 0, shown.output
    assert "You were referred to me by Ann Lee at Acme" in shown.stdout
    for path in outbox(network):
        path.unlink()
    again = breadcrumbs(network, "preview", key)
    assert again.exit_code == 0, again.output
    assert again.stdout == shown.stdout


def test_preview_of_an_unknown_key_says_where_to_look(network: Workspace) -> None:
    """Exit 1 and a pointer to `breadcrumbs due`."""
    result = breadcrumbs(network, "preview", "intro:e:nobody@example.com")
    assert result.exit_code == 1
    assert "breadcrumbs due" in result.output


def test_status_json_counts_the_ledger_by_state(network: Workspace) -> None:
    """Empty at first; after a run, two written; a skipped row shows among the problems."""
    empty = breadcrumbs(network, "status")
    assert "The ledger is empty" in empty.stdout
    assert breadcrumbs(network, "follow-up", "--no-prefect", "--limit", "1").exit_code == 0
    assert breadcrumbs(network, "status", "--json").exit_code == 0
    data = json.loads(breadcrumbs(network, "status", "--json").stdout)
    assert data["counts"] == {"written": 1} and data["total"] == 1
    assert [e["state"] for e in data["emails"]] == ["written"]
    text = breadcrumbs(network, "status").stdout
    assert text.startswith("1 email: 1 written\n")


def test_opt_out_holds_through_a_resync_and_can_be_undone(network: Workspace) -> None:
    """`opt-out ann@example.com`: no thank-you, also after a sync; `--undo` lets it go."""
    result = breadcrumbs(network, "opt-out", "Ann@Example.com")
    assert result.exit_code == 0, result.output
    assert "opted out for good" in result.stdout
    assert breadcrumbs(network, "follow-up", "--no-prefect").exit_code == 0
    assert "ann@example.com" not in recipients(network)
    assert breadcrumbs(network, "opt-out", "ann@example.com", "--undo").exit_code == 0
    assert breadcrumbs(network, "follow-up", "--no-prefect").exit_code == 0
    assert "ann@example.com" in recipients(network)


def test_skip_drops_one_due_email_for_good(network: Workspace) -> None:
    """`skip KEY`: the thank-you never goes; the intro still does."""
    key = ann_key(network)
    result = breadcrumbs(network, "skip", key)
    assert result.exit_code == 0, result.output
    assert "it will not be due again" in result.stdout
    assert breadcrumbs(network, "follow-up", "--no-prefect").exit_code == 0
    assert breadcrumbs(network, "follow-up", "--no-prefect").exit_code == 0
    assert recipients(network) == ["bob@example.com"]
    due = json.loads(breadcrumbs(network, "due", "--json").stdout)
    assert key not in [d["key"] for d in due["due"] + due["waiting"]]


@pytest.mark.parametrize(
    ("pitch", "expected"),
    [
        (" ".join(["I help small teams get their numbers right."] * 12) + " Thanks.", "seconds"),
        (
            "I architect scalable, cloud-native, event-driven data infrastructure leveraging "
            "distributed orchestration frameworks, facilitating enterprise-grade observability.",
            "reads hard",
        ),
    ],
)
def test_profile_check_warns_about_a_long_or_jargon_dense_pitch(
    workspace: Workspace, pitch: str, expected: str
) -> None:
    """A pitch of about 100 words, or one full of jargon: a warning, exit 0."""
    write_profile(workspace, pitch=pitch)
    result = breadcrumbs(workspace, "profile", "check")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stdout and expected in result.stdout


def test_profile_check_is_quiet_for_the_sample_pitch(workspace: Workspace) -> None:
    """The bundled profile passes: one line saying so, no warning."""
    shutil.copyfile(SAMPLE_DIR / "profile.toml", workspace.profile_path)
    result = breadcrumbs(workspace, "profile", "check")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stdout
    assert "looks good" in result.stdout


def test_profile_check_names_the_missing_sender(workspace: Workspace) -> None:
    """The blank profile of `init`: exit 1, naming [me] name and [me] email."""
    result = breadcrumbs(workspace, "profile", "check")
    assert result.exit_code == 1
    assert "[me] name, [me] email" in result.output


def test_follow_up_by_name_in_the_sheet_reaches_the_right_person(workspace: Workspace) -> None:
    """A conversation logged by name, not address, still thanks that contact."""
    write_profile(workspace)
    folder = workspace.root / "sheet"
    write_csv(folder / "contacts.csv", "email,name\nann@example.com,Ann Lee")
    write_csv(folder / "interactions.csv", "date,contact,kind\n2026-11-24,ann lee,call")
    assert breadcrumbs(workspace, "sync", str(folder)).exit_code == 0
    assert breadcrumbs(workspace, "follow-up", "--no-prefect").exit_code == 0
    assert recipients(workspace) == ["ann@example.com"]


IMPORT_PROBE = """
import sys
import breadcrumbs.cli, breadcrumbs.digest, breadcrumbs.follow_up
import breadcrumbs.sync  # follow-up asks it whether the sheet changed
print(sorted(m for m in ("breadcrumbs.validate", "email_validator") if m in sys.modules))
"""


def test_a_follow_up_or_digest_does_not_load_the_validator() -> None:
    """Only a sync that loads rows validates them: a follow-up whose sheet is unchanged, or a
    digest, starts without validate.py and email-validator (issue 11: start-up time)."""
    probe = [sys.executable, "-c", IMPORT_PROBE]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def _count_openings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every DuckDB opening of a store from now on, by file (through the engine module the
    store opens it with: store.database.duckdb)."""
    from breadcrumbs.store import database

    opened: list[str] = []
    connect = database.duckdb.connect

    def counted(path: str, *args: Any, **kwargs: Any) -> Any:
        opened.append(path)
        return connect(path, *args, **kwargs)

    monkeypatch.setattr(database.duckdb, "connect", counted)
    return opened


def _lock_is_free(workspace: Workspace) -> bool:
    from breadcrumbs.errors import WorkspaceError
    from breadcrumbs.store.database import workspace_lock

    try:
        with workspace_lock(workspace, wait=0):
            return True
    except WorkspaceError:
        return False


@pytest.mark.parametrize("command", ["follow-up", "digest"])
def test_the_sync_look_and_detection_share_one_opening_released_before_compose(
    network: Workspace, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Issue 11: follow-up opens the store once for the sync's look at the sheet and
    detection, then once more to deliver (it holds nothing while it composes, so another
    run is not kept waiting). The digest opens it once for all of it: its compose stage
    held the store throughout already, and detection leaves what an update only shows in
    the store until updates are built (detect.py)."""
    from breadcrumbs.compose.message import Composer

    free_while_composing: list[bool] = []
    compose = Composer.compose

    def watched(self: Composer, *args: Any) -> Any:
        if not free_while_composing:
            free_while_composing.append(_lock_is_free(network))
        return compose(self, *args)

    monkeypatch.setattr(Composer, "compose", watched)
    opened = _count_openings(monkeypatch)
    if command == "digest":
        monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-28")  # past the quiet period
    result = breadcrumbs(network, command, "--no-prefect")
    assert result.exit_code == 0, result.output
    assert len(opened) == (2 if command == "follow-up" else 1)
    assert free_while_composing == [command == "follow-up"]
    assert _lock_is_free(network)


@pytest.mark.parametrize("command", ["sync", "follow-up", "digest", "status"])
def test_main_pauses_the_collector_for_start_up_only(
    network: Workspace, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Issue 11: the console script pauses cyclic collection while a command imports its
    modules; the command's own work runs with it on, as before (the sync, and follow-up's
    and the digest's look at the sheet: their batches pause it themselves), and main leaves
    it as it found it."""
    import gc

    import breadcrumbs.sync
    from breadcrumbs import cli

    collecting: list[bool] = []
    run_sync = breadcrumbs.sync.run_sync

    def watched(*args: Any, **kwargs: Any) -> Any:
        collecting.append(gc.isenabled())
        return run_sync(*args, **kwargs)

    monkeypatch.setattr(breadcrumbs.sync, "run_sync", watched)
    starting: list[bool] = []  # while the command starts (it names its workspace first)
    workspace = cli._workspace

    def named(*args: Any, **kwargs: Any) -> Any:
        starting.append(gc.isenabled())
        return workspace(*args, **kwargs)

    monkeypatch.setattr(cli, "_workspace", named)
    if command == "digest":
        monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-12-28")  # past the quiet period
    sheet = [str(network.root / "sheet")] if command == "sync" else []
    argv = ["breadcrumbs", command, *sheet, "--workspace", str(network.root)]
    monkeypatch.setattr(sys, "argv", [*argv, *(["--no-prefect"] if command != "status" else [])])
    assert gc.isenabled()
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code in (0, None)
    assert collecting == ([] if command == "status" else [True])
    assert starting == [command == "status"]
    assert gc.isenabled()
