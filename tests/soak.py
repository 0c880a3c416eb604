"""The send soak (issue 8, "Prove it"): many Gmail send batches against the fake Google, with
random faults and random SIGKILLs, then the figures: batches, runs, faults injected, kills,
duplicates and losses. Duplicates and losses must be 0; the exit status says whether they
were.

    python -m tests.soak --seconds 600        # `make soak`
    python -m tests.soak --batches 2          # what tests/test_soak.py runs in the suite

Each batch is a fresh workspace whose contacts were each met yesterday (so each is owed one
thank-you) and a fresh fake Google in its own process. Runs are started as in
tests/test_crash_send.py (`python -c` calling run_sync and run_follow_up(mode="send")), some
SIGKILLed at a random point (among them inside a reply the fake delays after storing the
message), until a run finishes with nothing uncertain or waiting. Then every owed email must
have been accepted by the fake exactly once, and the ledger must say `sent` for each.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path

from breadcrumbs.settings import Workspace
from breadcrumbs.sync import run_sync
from breadcrumbs.workspace import init_workspace
from tests.fake_google import RemoteFakeGoogle, start_subprocess
from tests.follow_up_support import sql, write_sheet
from tests.google_support import bare, connect, write_gmail_profile
from tests.test_crash_send import (
    UNFINISHED,
    SendFaults,
    accepted,
    after,
    kill_when,
    ledger_states,
    reaches,
    start_run,
)

TODAY = "2026-11-25"
MAX_STORMS = 4  # runs per batch with faults and a kill, before the calm ones
MAX_CALM = 4  # runs with no new fault or kill: a batch still unfinished then counts losses
# Faults Gmail really gives, on the calls a send batch makes. Each is answered before or
# after the fake stores the message; none is a permanent refusal of a good email.
SEND_FAULTS = [
    "500",
    "503_after",
    "drop_before",
    "drop_after",
    "slow_after",
    "429",
    "mail_sending",
    "daily_limit",
    "401",
]
LOOKUP_FAULTS = ["500", "drop_before", "429"]  # messages.list, when a run reconciles
KILLS = ["none", "accepted, slow reply", "after some accepted", "at a random moment"]


@dataclass
class Figures:
    batches: int = 0
    runs: int = 0
    emails: int = 0
    faults: int = 0
    kills: int = 0
    kills_after_accept: int = 0  # a row left `sending` whose message the fake had stored
    found_on_reconcile: int = 0
    duplicates: int = 0
    losses: int = 0

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def line(self) -> str:
        return ", ".join(
            f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self)
        )


def run_batch(root: Path, rng: random.Random) -> Figures:
    """One workspace, one fake, runs until the batch is settled; its figures."""
    figures = Figures(batches=1)
    people = [f"p{i:02d}@example.com" for i in range(rng.randint(4, 16))]
    figures.emails = len(people)
    proc, url = start_subprocess(root / "fake-state.json")
    try:
        fake = RemoteFakeGoogle(url)
        os.environ["BREADCRUMBS_GOOGLE_API_ENDPOINT"] = fake.url
        os.environ["BREADCRUMBS_GOOGLE_TOKEN_URI"] = fake.token_uri
        ws = Workspace(root / "ws")
        init_workspace(ws)
        write_gmail_profile(ws)
        write_sheet(
            ws,
            "email,name\n" + "".join(f"{p},Person {p[1:3]}\n" for p in people),
            "date,contact,kind\n" + "".join(f"2026-11-24,{p},call\n" for p in people),
        )
        run_sync(ws, str(ws.root / "sheet"))
        connect(ws.root, fake)
        _play(ws, fake, rng, figures)
        _count(ws, fake, people, figures)
    finally:
        proc.kill()
        proc.wait(10)
    return figures


def _play(ws: Workspace, fake: RemoteFakeGoogle, rng: random.Random, figures: Figures) -> None:
    faults = SendFaults(fake)
    storms = rng.randint(1, MAX_STORMS)
    for attempt in range(storms + MAX_CALM):
        calm = attempt >= storms
        before = accepted(fake)
        if not calm:
            for _ in range(rng.randint(0, 3)):
                if rng.random() < 0.8:
                    faults.inject(rng.choice(SEND_FAULTS), skip=rng.randint(0, 4), delay=2.0)
                else:
                    fake.inject("messages.list", rng.choice(LOOKUP_FAULTS), skip=rng.randint(0, 2))
                figures.faults += 1
        kill = "none" if calm else rng.choice(KILLS)
        run = start_run(ws)
        figures.runs += 1
        if kill == "accepted, slow reply":
            slow_call = faults.inject("slow_after", skip=rng.randint(0, 2), delay=4.0)
            figures.faults += 1
            killed = kill_when(run, reaches(faults.calls, slow_call))
        elif kill == "after some accepted":
            target = before + rng.randint(1, 4)
            killed = kill_when(run, reaches(lambda: accepted(fake), target))
        elif kill == "at a random moment":
            killed = kill_when(run, after(rng.uniform(0.5, 4.0)))
        else:
            _, err = run.communicate(timeout=300)
            killed = False
            if run.returncode != 0:
                raise RuntimeError(f"a run failed:\n{err}")
        if not killed and run.returncode != 0:
            raise RuntimeError(f"a run failed (exit {run.returncode})")
        figures.kills += killed
        if killed:
            sending = {
                r[0] for r in sql(ws, "SELECT message_id FROM messages WHERE state = 'sending'")
            }
            stored = {a["message_id"] for a in fake.accepted_sends("messages.send")[before:]}
            figures.kills_after_accept += bool(sending & stored)
        states = ledger_states(ws)
        if not killed and not any(states[s] for s in UNFINISHED):
            return


def _count(ws: Workspace, fake: RemoteFakeGoogle, people: list[str], figures: Figures) -> None:
    """Duplicates: sends beyond the first, per Message-ID and per recipient. Losses: owed
    emails the fake never accepted or the ledger does not call sent."""
    sends = fake.accepted_sends("messages.send")
    by_id = Counter(a["message_id"] for a in sends)
    by_to = Counter(bare(a["to"]) for a in sends)
    figures.duplicates = max(sum(n - 1 for n in by_id.values()), sum(n - 1 for n in by_to.values()))
    rows = sql(ws, "SELECT lower(email), message_id, state, reason FROM messages")
    sent = {r[0] for r in rows if r[2] == "sent" and by_id.get(r[1], 0) >= 1}
    figures.losses = sum(1 for p in people if p not in sent or by_to.get(p, 0) == 0)
    figures.found_on_reconcile = sum(1 for r in rows if (r[3] or "").startswith("found delivered"))


def soak(seconds: float, batches: int | None, seed: int, report_every: int = 10) -> Figures:
    os.environ["BREADCRUMBS_TODAY"] = TODAY
    os.environ.pop("PREFECT_API_URL", None)
    rng = random.Random(seed)
    total = Figures()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (batches is None or total.batches < batches):
        with tempfile.TemporaryDirectory(prefix="breadcrumbs-soak-") as tmp:
            total.add(run_batch(Path(tmp), rng))
        if total.batches % report_every == 0:
            print(f"... {total.line()}", flush=True)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="time budget")
    parser.add_argument("--batches", type=int, default=None, help="stop after this many")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures = soak(args.seconds, args.batches, args.seed)
    print(f"soak (seed {args.seed}, {time.monotonic() - started:.0f} s): {figures.line()}")
    if figures.duplicates or figures.losses:
        print("FAILED: an email was sent twice or never", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
