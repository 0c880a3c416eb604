"""Crash tests for Gmail send (issue 4, "Done when"): a send batch in a subprocess, with
faults on, SIGKILLed at random points (among them right after the fake Google accepted a
message, while the client still waits for the reply) and re-run until a run finishes with
nothing left uncertain or waiting: every due email accepted exactly once, none lost.

One fake Google runs as a subprocess (tests/fake_google.py, `start_subprocess`) and is shared
by every run. Each run is `python -c` calling run_sync and run_follow_up(mode="send") with a
Gmail mailer built with a one-second client timeout: the CLI has no setting for the send
timeout (make_mailer uses the 30 s default), and a slow reply must outlast the client."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from breadcrumbs.settings import Workspace
from tests.fake_google import RemoteFakeGoogle, start_subprocess
from tests.follow_up_support import sql, sync, write_sheet
from tests.google_support import (
    FAST_UNITS_PER_MINUTE,
    SHORT_TIMEOUT,
    bare,
    connect,
    point_at,
    write_gmail_profile,
)

PEOPLE = 40
SEED = 4_2026_11
MAX_KILLS = 8
MAX_FINAL_RUNS = 6
ROOT = Path(__file__).resolve().parents[1]
RUN = f"""
import json, sys
from pathlib import Path
from breadcrumbs.follow_up import run_follow_up
from breadcrumbs.google.api import Pacer
from breadcrumbs.deliver.gmail import gmail_mailer
from breadcrumbs.settings import Workspace
from breadcrumbs.sync import run_sync

ws = Workspace(Path(sys.argv[1]))
run_sync(ws)
mailer = gmail_mailer(
    "send", ws.root, timeout={SHORT_TIMEOUT}, pacer=Pacer({FAST_UNITS_PER_MINUTE}),
    sleep=lambda s: None,
)
report = run_follow_up(ws, mode="send", mailer=mailer)
print(json.dumps({{s: report.count(s) for s in ("sent", "unknown", "deferred", "failed")}}))
"""
UNFINISHED = ("planned", "sending", "unknown", "deferred")
# What each killed run is like; the numbers in it (skips, delays, when) come from the seed.
KILLS = [
    "accepted, slow reply",
    "after some accepted",
    "accepted, slow reply",
    "at a random moment",
    "after some accepted",
    "accepted, slow reply",
    "at a random moment",
    "after some accepted",
]
FAULTS = ["503_after", "drop_after", "slow_after", "500"]


@pytest.fixture
def shared_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteFakeGoogle]:
    """The fake Google in its own process, its state in a file; env points at it."""
    proc, url = start_subprocess(tmp_path / "fake-state.json")
    try:
        fake = RemoteFakeGoogle(url)
        point_at(monkeypatch, fake)
        yield fake
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def network(workspace: Workspace, today: str) -> Workspace:
    """PEOPLE contacts, each met for a call yesterday: PEOPLE thank-yous due today."""
    write_gmail_profile(workspace)
    people = [f"p{i:02d}@example.com" for i in range(PEOPLE)]
    write_sheet(
        workspace,
        "email,name\n" + "".join(f"{p},Person {p[1:3]}\n" for p in people),
        "date,contact,kind\n" + "".join(f"2026-11-24,{p},call\n" for p in people),
    )
    sync(workspace)
    return workspace


def start_run(workspace: Workspace) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen(
        [sys.executable, "-c", RUN, str(workspace.root)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], within: float = 20) -> bool:
    """SIGKILL the run as soon as `ready()` holds; False if it finished first."""
    deadline = time.monotonic() + within
    while proc.poll() is None and time.monotonic() < deadline and not ready():
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=20)
    return killed


def accepted(fake: RemoteFakeGoogle) -> int:
    return len(fake.accepted_sends("messages.send"))


class SendFaults:
    """The fake's queue of messages.send faults, tracked from outside: the fake lets each
    fault wait its `skip` calls only once the fault before it has fired, and every call
    (none is refused before the queue here: the token is good, no quota is set) advances the
    queue by one. So the send call a fault answers is known when it is injected."""

    def __init__(self, fake: RemoteFakeGoogle) -> None:
        self.fake = fake
        self.end = 0  # the call number the last fault in the queue answers

    def calls(self) -> int:
        return int(self.fake.state()["calls"].get("messages.send", 0))

    def inject(self, kind: str, skip: int, delay: float = 0.0) -> int:
        """Queue a fault; returns the number of the send call it will answer."""
        self.end = max(self.end, self.calls()) + skip + 1
        self.fake.inject("messages.send", kind, skip=skip, delay=delay)
        return self.end


def reaches(counter: Callable[[], int], target: int) -> Callable[[], bool]:
    return lambda: counter() >= target


def after(seconds: float) -> Callable[[], bool]:
    deadline = time.monotonic() + seconds
    return lambda: time.monotonic() >= deadline


def ledger_states(workspace: Workspace) -> Counter[str]:
    return Counter(r[0] for r in sql(workspace, "SELECT state FROM messages"))


def test_send_batches_killed_at_random_points_deliver_every_email_exactly_once(
    network: Workspace, shared_fake: RemoteFakeGoogle
) -> None:
    """Forty thank-yous, up to eight SIGKILLed runs with 503-after-accepting, dropped
    connections, replies slower than the client and 500s mixed in, then runs to the end:
    the fake accepted each email exactly once, and the ledger says `sent` for all forty."""
    fake = shared_fake
    connect(network.root, fake)
    faults = SendFaults(fake)
    rng = random.Random(SEED)
    # Kills that left a row `sending` whose message the fake had stored in that run, and
    # among them those that landed inside a slow reply (accepted, reply not yet sent).
    after_accept = in_slow_reply = 0
    for kill in KILLS[:MAX_KILLS]:
        before = accepted(fake)
        if PEOPLE - before < 4:
            break  # too little left to interrupt
        for _ in range(rng.randint(1, 2)):  # faults mixed into the run
            faults.inject(rng.choice(FAULTS), skip=rng.randint(0, 5), delay=2.0)
        if kill == "accepted, slow reply":
            # The fake stores this call's message, then waits 4 s before replying: killed
            # as soon as the call is counted (it is stored by then), the client is still
            # waiting, well inside its 1 s timeout.
            slow_call = faults.inject("slow_after", skip=rng.randint(0, 2), delay=4.0)
            run = start_run(network)
            killed = kill_when(run, reaches(faults.calls, slow_call))
        elif kill == "after some accepted":
            count = before + rng.randint(1, 6)
            run = start_run(network)
            killed = kill_when(run, reaches(lambda: accepted(fake), count))
        else:
            run = start_run(network)
            killed = kill_when(run, after(rng.uniform(0.3, 1.5)))
        assert killed or run.returncode == 0, run.stderr
        states = ledger_states(network)
        assert sum(states.values()) in (0, PEOPLE), states  # planned together, or not yet
        sending = {
            r[0] for r in sql(network, "SELECT message_id FROM messages WHERE state = 'sending'")
        }
        stored_now = [a["message_id"] for a in fake.accepted_sends("messages.send")[before:]]
        after_accept += bool(sending & set(stored_now))
        if kill == "accepted, slow reply" and killed:
            in_slow_reply += stored_now[-1] in sending

    finals = []
    for _ in range(MAX_FINAL_RUNS):
        run = start_run(network)
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        finals.append(json.loads(out.strip().splitlines()[-1]))
        states = ledger_states(network)
        if not any(states[s] for s in UNFINISHED):
            break
    assert ledger_states(network) == {"sent": PEOPLE}, finals

    # Exactly once, by Message-ID and by recipient; none lost.
    rows = sql(network, "SELECT email, message_id, stored_message_id, provider_id FROM messages")
    sends = fake.accepted_sends("messages.send")
    by_id = Counter(a["message_id"] for a in sends)
    assert by_id == Counter({r[1]: 1 for r in rows})
    assert Counter(bare(a["to"]) for a in sends) == Counter({r[0]: 1 for r in rows})
    assert len(sends) == PEOPLE
    ids = {a["id"]: a["message_id"] for a in sends}
    assert all(r[3] in ids and ids[r[3]] == r[2] == r[1] for r in rows)
    # The hazards were really met: a kill between Gmail's accept and its reply, and rows
    # the next run had to find in the mailbox rather than send.
    assert after_accept >= 3 and in_slow_reply >= 2, (after_accept, in_slow_reply)
    found = sql(network, "SELECT count(*) FROM messages WHERE reason LIKE 'found delivered%'")
    assert found[0][0] >= 1
