"""The send soak in the suite: a short `python -m tests.soak` (tests/soak.py), the same
command `make soak` runs for ten minutes. One batch, seeded so that its first runs carry
faults; whether a kill lands depends on the machine's speed, so it is not required here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 14  # 5 people, two stormy runs, the first with two faults


def test_a_short_soak_sends_every_email_once_through_faults_and_kills() -> None:
    """The soak exits 0 and prints its figures: faults were injected, no email went twice,
    none was lost."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.soak", "--batches", "1", "--seed", str(SEED)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]  # "soak (seed 14, 20 s): batches 1, runs 3, ..."
    figures = {
        name.strip(): int(value)
        for name, value in re.findall(r"([a-z ]+) (\d+)", last.split("): ")[1])
    }
    assert figures["batches"] == 1 and figures["emails"] == 5
    assert figures["faults"] >= 2 and figures["runs"] >= 2
    assert figures["duplicates"] == 0 and figures["losses"] == 0
