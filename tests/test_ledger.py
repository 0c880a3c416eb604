"""The ledger and the outbox: each email at most once, whatever is edited, re-run or killed
(breadcrumbs/store/ledger.py, breadcrumbs/deliver/outbox.py, breadcrumbs/follow_up.py)."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import formataddr
from pathlib import Path
from typing import cast

import pytest

from breadcrumbs import clock
from breadcrumbs.deliver.outbox import OutboxMailer, file_name
from breadcrumbs.errors import DeliveryFailed
from breadcrumbs.follow_up import compose_stage, detect_stage, load_checked_profile, run_follow_up
from breadcrumbs.records import OutgoingEmail
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.store.ledger import plan, rows_in, skip, status
from breadcrumbs.workspace import init_workspace
from tests.conftest import write_csv
from tests.follow_up_support import (
    ledger,
    outbox,
    play,
    read_message,
    recipients,
    sql,
    sync,
    write_profile,
    write_sheet,
)

BREADCRUMBS = Path(sys.executable).with_name("breadcrumbs")
PEOPLE = """
    email,name,company,referred_by
    ann@example.com,Ann Lee,Acme,
    bob@example.com,Bob Stone,Globex,
    cy@example.com,Cy Park,Initech,ann@example.com
"""
TALKS = """
    date,contact,kind,topic,notes,referrals
    2026-11-23,ann@example.com,coffee,dbt at Acme,first notes,
    2026-11-24,bob@example.com,call,,,
"""


def setup_network(workspace: Workspace) -> None:
    write_profile(workspace)
    write_sheet(workspace, PEOPLE, TALKS)


def test_a_second_run_delivers_nothing_new(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two thank-yous and an intro on the first run; the same day and the next: nothing."""
    setup_network(workspace)
    first = play(workspace, monkeypatch, "2026-11-25")
    assert first.count("written") == 3
    before = {p.name: p.stat().st_mtime_ns for p in outbox(workspace)}
    assert play(workspace, monkeypatch, "2026-11-25").outcomes == []
    assert play(workspace, monkeypatch, "2026-11-26").outcomes == []
    assert {p.name: p.stat().st_mtime_ns for p in outbox(workspace)} == before
    assert set(ledger(workspace).values()) == {"written"}


@pytest.mark.parametrize(
    ("edited_row", "edit"),
    [
        ("2026-11-23,ann@example.com,coffee,dbt at Acme,second thoughts: call again,", "notes"),
        ("2026-11-23,ann@example.com,coffee,dbt and Airflow at Acme,first notes,", "topic"),
        ("2026-11-24,ann@example.com,coffee,dbt at Acme,first notes,", "date a day later"),
        ("2026-11-25,ann@example.com,coffee,dbt at Acme,first notes,", "date two days later"),
        ("2026-11-22,ann@example.com,coffee,dbt at Acme,first notes,", "date a day earlier"),
        ("2026-11-21,ann@example.com,coffee,dbt at Acme,first notes,", "date two days earlier"),
        ("2026-11-23,ann@example.com,video,dbt at Acme,first notes,", "kind"),
        ("2026-11-23,Ann Lee,Coffee,dbt at Acme,first notes,", "named instead of emailed"),
    ],
)
def test_editing_a_conversation_row_never_brings_a_second_thank_you(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, edited_row: str, edit: str
) -> None:
    """Notes, topic, a date typo by a day or two, or the kind fixed: still one thank-you."""
    setup_network(workspace)
    play(workspace, monkeypatch, "2026-11-25")
    assert recipients(workspace).count("ann@example.com") == 1
    talks = TALKS.replace("2026-11-23,ann@example.com,coffee,dbt at Acme,first notes,", edited_row)
    write_sheet(workspace, PEOPLE, talks)
    for day in ("2026-11-25", "2026-11-26", "2026-11-27"):
        report = play(workspace, monkeypatch, day)
        assert report.outcomes == [], f"{edit}: {report.outcomes}"
    assert recipients(workspace).count("ann@example.com") == 1


def plan_without_delivering(workspace: Workspace, state: str) -> list[OutgoingEmail]:
    """What a run that died right after committing its rows leaves: rows, and no files."""
    profile = load_checked_profile(workspace)
    composed, failed = compose_stage(workspace, profile, detect_stage(workspace, profile).due)
    assert not failed
    with open_store(workspace) as con:
        plan(con, composed, "outbox", state=state)
    return [c.email for c in composed]


@pytest.mark.parametrize("state", ["sending", "planned"])
def test_a_crash_before_the_file_lands_then_a_rerun_leaves_exactly_one_file(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    """Rows committed as sending (or planned), no file: the next run writes each once."""
    setup_network(workspace)
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    sync(workspace)
    emails = plan_without_delivering(workspace, state)
    assert outbox(workspace) == []
    report = run_follow_up(workspace)
    assert sorted(o.key for o in report.outcomes) == sorted(e.key for e in emails)
    assert [p.name for p in outbox(workspace)] == sorted(file_name(e) for e in emails)
    assert ledger(workspace) == {e.key: "written" for e in emails}
    assert run_follow_up(workspace).outcomes == []
    # What is written is what was planned: the same Message-ID, the same bytes.
    for email in emails:
        assert (workspace.outbox / file_name(email)).read_bytes() == b"X-Unsent: 1\r\n" + (
            email.raw
        )


def test_a_row_planned_earlier_today_without_its_message_is_written_as_it_was_planned(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox ledger keeps no message (issue 11): a run an hour later composes the
    planned rows again as of their planned_at, so the files carry the planned Date."""
    setup_network(workspace)
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    sync(workspace)
    emails = plan_without_delivering(workspace, "planned")
    with open_store(workspace) as con:
        assert {row.raw for row in rows_in(con, ["planned"])} == {None}
    later = clock.now() + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    run_follow_up(workspace)
    for email in emails:
        assert (workspace.outbox / file_name(email)).read_bytes() == b"X-Unsent: 1\r\n" + (
            email.raw
        )


def test_a_crash_after_the_file_landed_is_reconciled_without_writing_it_again(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows left sending, files already there: the next run records them, rewrites nothing."""
    setup_network(workspace)
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    sync(workspace)
    emails = plan_without_delivering(workspace, "sending")
    mailer = OutboxMailer(workspace.outbox)
    mailer.deliver(emails[0])
    landed = outbox(workspace)[0]
    stamp = landed.stat().st_mtime_ns
    report = run_follow_up(workspace)
    reasons = {o.key: o.reason for o in report.outcomes}
    assert reasons[emails[0].key] == "found delivered on reconcile"
    assert landed.stat().st_mtime_ns == stamp
    assert len(outbox(workspace)) == len(emails)
    assert set(ledger(workspace).values()) == {"written"}


def big_network(workspace: Workspace, people: int) -> None:
    write_profile(workspace)
    folder = workspace.root / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"p{n:04d}@example.com,Person {n:04d}\n" for n in range(people))
    (folder / "contacts.csv").write_text("email,name\n" + rows)
    talks = "".join(f"2026-11-24,p{n:04d}@example.com,call\n" for n in range(people))
    (folder / "interactions.csv").write_text("date,contact,kind\n" + talks)


def run_and_kill(
    workspace: Workspace, env: dict[str, str], kill: str, files: int, rng: random.Random
) -> None:
    """Start `breadcrumbs follow-up`, SIGKILL it when `kill` says, then reap it."""
    command = [str(BREADCRUMBS), "follow-up", "-w", str(workspace.root), "--no-sync"]
    process = subprocess.Popen(
        [*command, "--no-prefect"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    if kill == "after a random delay":
        time.sleep(rng.uniform(0.05, 0.6))
    else:  # as soon as the outbox holds more than `files` messages: mid-batch for certain
        while process.poll() is None and time.monotonic() < deadline:
            if sum(1 for e in os.scandir(workspace.outbox) if e.name.endswith(".eml")) > files:
                break
            time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=20)


def test_runs_killed_mid_batch_then_a_final_run_leave_every_email_exactly_once(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """400 thank-yous; `breadcrumbs follow-up` SIGKILLed five times (four of them while
    files were landing); a final run: one file per key, each written, none twice."""
    people = 400
    big_network(workspace, people)
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    sync(workspace)
    env = {**os.environ, "BREADCRUMBS_TODAY": "2026-11-25"}
    env.pop("PREFECT_API_URL", None)
    rng = random.Random(6923)
    seen = []
    for kill in ("files", "files", "after a random delay", "files", "files"):
        landed = len(outbox(workspace))
        if people - landed < 10:
            break
        # Kill while a third of what is left is still to land (a write takes ~0.1 ms).
        run_and_kill(workspace, env, kill, landed + rng.randint(1, (people - landed) // 3), rng)
        seen.append(len(outbox(workspace)))
    assert any(0 < n < people for n in seen), seen  # the kills did interrupt batches
    final = subprocess.run(
        [str(BREADCRUMBS), "follow-up", "-w", str(workspace.root), "--no-sync", "--no-prefect"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert final.returncode == 0, final.stderr

    rows = sql(workspace, "SELECT key, state, message_id, attempts FROM messages")
    assert len(rows) == people
    assert {r[1] for r in rows} == {"written"}
    files = outbox(workspace)
    with open_store(workspace) as con:
        written = rows_in(con, ["written"])
    assert sorted(p.name for p in files) == sorted(file_name(r.outgoing()) for r in written)
    ids = [read_message(p)["Message-ID"] for p in files]
    assert sorted(ids) == sorted(r[2] for r in rows)
    assert len(set(ids)) == people
    for path in files:  # every file whole: its last boundary closes it
        assert re.search(rb"--=_mix_[0-9a-f]+--\r\n$", path.read_bytes()), path.name
    assert not any(r[0].startswith("intro") for r in rows)


@pytest.mark.parametrize(
    "key",
    [
        "thank-you:i:3f2a9c0d1e2b4a5c",
        "intro:e:bob.smith@example.com",
        "intro:n:josé núñez",
        "intro:n:../../etc/passwd",
        'intro:n:a\\b/c:d*e?f"g<h>i|j',
        "monthly:e:ann@example.com:2026-11",
        "intro:n:" + "x" * 500,
        "intro:n:.hidden",
        "intro:n:CON",
    ],
)
def test_outbox_file_names_are_safe_on_any_file_system(key: str) -> None:
    """No character a file system refuses; no leading dot; short; unique per key via a hash;
    the recipient's name, whatever the key looks like."""
    name = file_name(outgoing(key, to=key.rsplit(":", 1)[-1]))
    assert re.fullmatch(r'\d{4}-\d\d-\d\d [^<>:"/\\|?*\x00-\x1f]+ \([0-9a-f]{8}\)\.eml', name), name
    assert len(name.encode()) <= 120
    assert file_name(outgoing(key, to=key.rsplit(":", 1)[-1])) == name
    # keys that read alike still get their own file
    assert file_name(outgoing(key + " ", to=key.rsplit(":", 1)[-1])) != name


def outgoing(key: str = "thank-you:i:1", to: str = "Bea Stone") -> OutgoingEmail:
    to_header = formataddr((to, "b@example.com"), charset="utf-8").encode("ascii")
    raw = b"From: a@example.com\r\nTo: " + to_header + b"\r\nSubject: hi\r\n\r\nbody\r\n"
    return OutgoingEmail(key, "b@example.com", "hi", "<1@example.com>", raw, datetime.now(UTC))


def test_an_outbox_file_is_the_message_after_x_unsent_written_atomically(
    tmp_path: Path,
) -> None:
    """The file is `X-Unsent: 1` then the raw message; no temporary file is left behind."""
    mailer = OutboxMailer(tmp_path / "outbox")
    email = outgoing()
    delivery = mailer.deliver(email)
    assert delivery.state == "written"
    [path] = (tmp_path / "outbox").iterdir()
    assert path.name == delivery.provider_id == file_name(email)
    assert path.read_bytes() == b"X-Unsent: 1\r\n" + email.raw
    assert mailer.find_delivered(email) == delivery


def test_an_outbox_file_written_a_few_bytes_at_a_time_still_holds_the_whole_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.write may write less than asked (a signal, a nearly full disk): the rest follows."""
    from breadcrumbs.deliver import outbox as outbox_module

    write = os.write
    monkeypatch.setattr(outbox_module.os, "write", lambda fd, data: write(fd, data[:7]))
    email = outgoing()
    OutboxMailer(tmp_path / "outbox").deliver(email)
    monkeypatch.undo()
    [path] = (tmp_path / "outbox").iterdir()
    assert path.read_bytes() == b"X-Unsent: 1\r\n" + email.raw


def test_a_file_that_cannot_be_written_leaves_nothing_behind(tmp_path: Path) -> None:
    """When the rename fails, the delivery fails and the temporary file is removed."""
    mailer = OutboxMailer(tmp_path / "outbox")
    email = outgoing()
    mailer.path_for(email).mkdir(parents=True)  # a folder squats on the target name
    with pytest.raises(DeliveryFailed):
        mailer.deliver(email)
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [file_name(email)]


def test_outbox_files_open_as_drafts_with_deterministic_message_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """X-Unsent: 1 first; two workspaces with the same sheet give the same Message-IDs."""
    found = []
    for name in ("one", "two"):
        ws = Workspace(tmp_path / name)
        init_workspace(ws)
        setup_network(ws)
        play(ws, monkeypatch, "2026-11-25")
        files = outbox(ws)
        assert all(p.read_bytes().startswith(b"X-Unsent: 1\r\n") for p in files)
        assert all(read_message(p)["X-Unsent"] == "1" for p in files)
        found.append({p.name: read_message(p)["Message-ID"] for p in files})
        ids = dict(sql(ws, "SELECT key, message_id FROM messages"))
        assert sorted(ids.values()) == sorted(found[-1].values())
    assert found[0] == found[1]


def test_status_counts_the_ledger_by_state_and_lists_the_problems(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written rows counted; a planned row the user skipped shows as failed, with why."""
    setup_network(workspace)
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    sync(workspace)
    emails = plan_without_delivering(workspace, "planned")
    with open_store(workspace) as con:
        skip(con, emails[0].key)
    run_follow_up(workspace)
    with open_store(workspace) as con:
        summary = status(con)
    assert summary["counts"] == {"failed": 1, "written": 2}
    listed = cast(list[dict[str, object]], summary["emails"])
    [problem] = [e for e in listed if e["state"] == "failed"]
    assert problem["key"] == emails[0].key
    assert problem["reason"] == "skipped by the user"
    assert not (workspace.outbox / file_name(emails[0])).exists()


def test_a_sheet_rewrite_keeps_the_ledger(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger is the store's, not the sheet's: a re-sync of a shorter sheet keeps it."""
    setup_network(workspace)
    play(workspace, monkeypatch, "2026-11-25")
    write_csv(workspace.root / "sheet" / "contacts.csv", "email,name\nann@example.com,Ann Lee")
    write_csv(workspace.root / "sheet" / "interactions.csv", "date,contact,kind")
    play(workspace, monkeypatch, "2026-11-25")
    assert len(ledger(workspace)) == 3


def test_a_row_with_its_message_is_the_same_row_otherwise() -> None:
    """Row.with_raw (the fast copy deliver uses) keeps every other field, as replace would."""
    from dataclasses import fields, replace
    from datetime import date

    from breadcrumbs.store.ledger import Row

    values: dict[str, object] = {f.name: f"v-{f.name}" for f in fields(Row)}
    values.update(raw=None, planned_at=datetime.now(UTC), for_date=None, planned_on=date.today())
    row = Row(**values)  # type: ignore[arg-type]
    assert row.with_raw(b"message") == replace(row, raw=b"message")


@pytest.mark.parametrize("mode", ["outbox", "drafts"])
def test_the_rows_plan_records_are_the_rows_the_ledger_reads_back(
    workspace: Workspace, today: str, mode: str
) -> None:
    """ledger.plan_rows returns each row as rows_in reads it back, whether the batch shares
    one planned_at and one day (each then passed to DuckDB once, issue 11) or not."""
    from breadcrumbs.store.ledger import WAITING, plan_rows

    setup_network(workspace)
    sync(workspace)
    profile = load_checked_profile(workspace)
    due = list(detect_stage(workspace, profile).due)
    assert len({d.for_date for d in due}) == 3  # Ann's coffee, Bob's call, Cy's intro (none)
    one, _ = compose_stage(workspace, profile, due[:1], mode)  # one day, one moment
    both, _ = compose_stage(workspace, profile, due, mode)
    # The three again, the first a second later: three days and two moments in one batch.
    later = [replace(c, email=replace(c.email, key=c.email.key + "+")) for c in both]
    first = later[0].email
    later[0] = replace(later[0], email=replace(first, planned_at=first.planned_at + timedelta(1)))
    with open_store(workspace) as con:
        recorded = plan_rows(con, one, mode) + plan_rows(con, later, mode)
        back = rows_in(con, WAITING, [mode])
    assert len(recorded) == 4
    if mode == "outbox":  # the ledger keeps no message: the run holds the one it composed
        assert all(r.raw for r in recorded)
        recorded = [replace(r, raw=None) for r in recorded]
    assert sorted(recorded, key=lambda r: r.key) == sorted(back, key=lambda r: r.key)
