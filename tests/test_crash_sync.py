"""A sync killed at any moment leaves the store as it was or as it should be, never half;
two runs at once deliver each email once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from tests.follow_up_support import outbox, write_profile

BIN = Path(sys.executable).parent / "breadcrumbs"


def _contacts(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["email,name,company"] + [
        f"p{i}@example.com,Person {i},Co {i % 50}" for i in range(count)
    ]
    (folder / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _env() -> dict[str, str]:
    return {**os.environ, "BREADCRUMBS_TODAY": "2026-11-25"}


def test_a_sync_killed_midway_leaves_the_old_sheet_or_the_new_one_and_the_ledger(
    workspace: Workspace, tmp_path: Path
) -> None:
    """SIGKILL during a 30,000-row sync: afterwards the store holds 10 or 30,000 contacts,
    never a part, the ledger row recorded before is still there, and a re-sync works."""
    small = _contacts(tmp_path / "small", 10)
    big = _contacts(tmp_path / "big", 30_000)
    subprocess.run(
        [str(BIN), "sync", str(small), "-w", str(workspace.root)],
        env=_env(),
        check=True,
        capture_output=True,
    )
    with open_store(workspace) as con:
        con.execute("INSERT INTO messages (key, kind, state) VALUES ('intro:x', 'intro', 'sent')")
    rng = random.Random(7)
    for _ in range(4):
        run = subprocess.Popen(
            [str(BIN), "sync", str(big), "-w", str(workspace.root)],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))
        run.send_signal(signal.SIGKILL)
        run.wait()
        with open_store(workspace) as con:
            contacts = con.execute("SELECT count(*) FROM contacts").fetchone()
            kept = con.execute("SELECT state FROM messages WHERE key = 'intro:x'").fetchone()
        assert contacts is not None and contacts[0] in (10, 30_000)
        assert kept == ("sent",)
    done = subprocess.run(
        [str(BIN), "sync", "-w", str(workspace.root)], env=_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    with open_store(workspace) as con:
        assert con.execute("SELECT count(*) FROM contacts").fetchone() == (30_000,)


def test_two_follow_ups_at_once_deliver_each_email_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Two processes on one workspace: the second waits for the first, then finds nothing."""
    write_profile(workspace, daily_cap=1000)
    sheet = _contacts(tmp_path / "sheet", 150)
    talks = ["date,contact,kind"] + [f"2026-11-24,p{i}@example.com,call" for i in range(150)]
    (sheet / "interactions.csv").write_text("\n".join(talks) + "\n", encoding="utf-8")
    subprocess.run(
        [str(BIN), "sync", str(sheet), "-w", str(workspace.root)],
        env=_env(),
        check=True,
        capture_output=True,
    )
    runs = [
        subprocess.Popen(
            [str(BIN), "follow-up", "-w", str(workspace.root)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    assert len(outbox(workspace)) == 150
    with open_store(workspace) as con:
        assert con.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall() == [
            ("written", 150)
        ]
