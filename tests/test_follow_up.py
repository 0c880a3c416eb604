"""One follow-up batch end to end on the real store: dry runs, limits, the hostile export,
and the path `make run` takes (breadcrumbs/follow_up.py)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from breadcrumbs.errors import BreadcrumbsError
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.settings import Workspace
from breadcrumbs.sync import run_sync
from breadcrumbs.workspace import install_sample
from tests.conftest import FIXTURES, write_csv
from tests.follow_up_support import (
    ledger,
    outbox,
    play,
    read_message,
    recipients,
    sql,
    write_profile,
    write_sheet,
)

BREADCRUMBS = Path(sys.executable).with_name("breadcrumbs")
FIVE = """
    email,name
    a@example.com,Ann Lee
    b@example.com,Bob Stone
    c@example.com,Cy Park
    d@example.com,Di Moss
    e@example.com,Ed Wu
"""
FIVE_TALKS = "date,contact,kind\n" + "".join(f"2026-11-24,{x}@example.com,call\n" for x in "abcde")
HEADERS = {"content-type", "date", "from", "message-id", "mime-version", "subject", "to"}


def test_a_dry_run_shows_what_would_go_and_records_nothing(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ledger row, no file; the real run afterwards still delivers every one."""
    write_profile(workspace)
    write_sheet(workspace, FIVE, FIVE_TALKS)
    report = play(workspace, monkeypatch, "2026-11-25", dry_run=True)
    assert [o.state for o in report.outcomes] == ["would write"] * 5
    assert all(o.subject.startswith("Thanks for the call") for o in report.outcomes)
    assert ledger(workspace) == {}
    assert outbox(workspace) == []
    assert run_follow_up(workspace).count("written") == 5


def test_a_limit_delivers_that_many_and_the_rest_next_time(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """limit=2 of five due: two files; the next run the other three."""
    write_profile(workspace)
    write_sheet(workspace, FIVE, FIVE_TALKS)
    assert play(workspace, monkeypatch, "2026-11-25", limit=2).count("written") == 2
    assert len(outbox(workspace)) == 2
    assert run_follow_up(workspace).count("written") == 3
    assert len(outbox(workspace)) == 5


def test_an_unknown_mode_is_refused(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only outbox, drafts and send exist."""
    write_profile(workspace)
    write_sheet(workspace, FIVE, FIVE_TALKS)
    with pytest.raises(BreadcrumbsError, match="unknown mode"):
        play(workspace, monkeypatch, "2026-11-25", mode="smtp")


def test_a_profile_without_a_sender_is_refused_before_anything_is_composed(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blank profile of `init` has no name or email: say which key to fill in."""
    write_sheet(workspace, FIVE, FIVE_TALKS)
    with pytest.raises(BreadcrumbsError, match=r"\[me\] name, \[me\] email"):
        play(workspace, monkeypatch, "2026-11-25")
    assert ledger(workspace) == {}


def test_the_hostile_export_end_to_end_leaves_no_injected_header(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sync tests/fixtures/exports/hostile-contacts.csv with conversations for most of its
    rows: every outbox file has exactly our headers and one recipient; the hostile rows
    are skipped or wait, each with its reason."""
    write_profile(workspace)
    folder = workspace.root / "sheet"
    folder.mkdir()
    shutil.copyfile(FIXTURES / "exports" / "hostile-contacts.csv", folder / "contacts.csv")
    who = [
        "alice@example.com",
        "eve@example.com",
        "mallory@example.org",
        "formula@example.com",
        "plusminus@example.net",
        "Nora Noemail",
        "bob.smith@example.com",
        "long@example.com",
        "emoji@example.com",
        "rtl@example.com",
        "optout@example.org",
        "padded.user@example.net",
        "carol@example.com",
        "dan@example.invalid",
    ]
    write_csv(
        folder / "interactions.csv",
        "date,contact,kind,topic\n"
        + "".join(f'2026-11-24,{w},call,"a <b>bold</b> topic\nBcc: x@evil.example"\n' for w in who),
    )
    report = play(workspace, monkeypatch, "2026-11-25")

    files = outbox(workspace)
    assert files
    for path in files:
        message = read_message(path)
        assert {k.lower() for k in message} == HEADERS | {"x-unsent"}, path.name
        assert len(message.get_all("To") or []) == 1
        assert len(message["To"].addresses) == 1
        head = path.read_bytes().split(b"\r\n\r\n", 1)[0].lower()
        assert b"\nbcc:" not in head and b"\ncc:" not in head
    sent_to = set(recipients(workspace))
    never = {"eve@example.com", "mallory@example.org", "rtl@example.com", "optout@example.org"}
    assert not sent_to & never
    assert not any(a.endswith(".invalid") for a in sent_to)
    assert {"alice@example.com", "bob.smith@example.com", "emoji@example.com"} <= sent_to

    skipped = {o.to: o.reason for o in report.outcomes if o.state == "skipped"}
    assert "encoded word" in skipped["mallory@example.org"]
    waiting = {w.due.email: w.reason for w in report.waiting}
    assert "control characters" in waiting["eve@example.com"]
    assert "control characters" in waiting["rtl@example.com"]
    assert waiting["optout@example.org"] == "opted out"
    # What the ledger says went out is exactly what is in the outbox.
    written = sql(workspace, "SELECT lower(email) FROM messages WHERE state = 'written'")
    assert sorted(r[0] for r in written) == sorted(sent_to)


def make_run_commands() -> list[list[str]]:
    """The `breadcrumbs` commands of the Makefile's `run` target, as make would expand them."""
    makefile = (Path(__file__).parents[1] / "Makefile").read_text(encoding="utf-8")
    demo = re.search(r"^DEMO := (.+)$", makefile, re.MULTILINE)
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    commands = [line.strip() for line in recipe if "$(BIN)/breadcrumbs" in line]
    assert demo is not None and commands
    return [[str(BREADCRUMBS), *shlex.split(c.replace("$(DEMO)", demo[1]))[1:]] for c in commands]


def test_the_make_run_path_writes_the_sample_then_nothing_on_a_second_run(
    tmp_path: Path,
) -> None:
    """The Makefile's `run` commands, as `make run` runs them from a fresh checkout: the
    emails and this month's updates land in the demo's own workspace; running it again
    writes none; the default workspace is never touched."""
    home = tmp_path / "data"  # the checkout's data/, as a fresh clone has it
    env = {**os.environ, "BREADCRUMBS_HOME": str(home), "COLUMNS": "200"}
    for name in ("PREFECT_API_URL", "BREADCRUMBS_TODAY"):
        env.pop(name, None)

    def make_run() -> str:
        out = ""
        for command in make_run_commands():
            done = subprocess.run(
                command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
            out += done.stdout
        return out

    first = make_run()
    demo = home / "demo"
    files = sorted((demo / "outbox").glob("*.eml"))
    assert len(files) >= 10
    assert f"Emails are in {demo / 'outbox'}" in first
    assert "thank-you" in first and "intro" in first
    assert "decided now" in first and "quiet period" in first
    assert len([p for p in files if " monthly " in p.name]) >= 5
    second = make_run()
    assert "Nothing is due right now." in second
    assert "nothing left to deliver" in second
    assert sorted((demo / "outbox").glob("*.eml")) == files
    assert sorted(p.name for p in home.iterdir()) == ["demo"]


def test_the_sample_network_gets_thank_yous_and_intros_and_a_call_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the sample: the opted-out and email-less wait, Kevin (no email) is never mailed,
    and those never contacted are listed to call."""
    workspace = Workspace(tmp_path / "fresh")  # install_sample brings the sample's profile
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    run_sync(workspace, str(install_sample(workspace)))
    report = run_follow_up(workspace)
    assert report.count("written") >= 10
    waiting = {w.due.name: w.reason for w in report.waiting}
    assert waiting["Hannah Lindqvist"] == "opted out"
    assert "no email" in waiting["Kevin Rivera"]
    assert "hannah.lindqvist@example.com" not in recipients(workspace)
    assert "Grace Liu" in [c.name for c in report.cold]
    assert run_sync(workspace).counts.contacts > 40  # the remembered source syncs again
