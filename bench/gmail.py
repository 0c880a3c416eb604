"""Gmail send against the fake Google, whose per-user quota is the one the profile configures.

`breadcrumbs follow-up --mode send` runs as a whole process; the fake (tests/fake_google.py,
in this process) charges Gmail's units per call in a sliding minute and refuses (429) a call
that would exceed the quota. Goal: sustained sends at ≥ 95% of the quota, and no refusal.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bench.measure import Figure, Results, run
from bench.readme import make_network, make_workspace

# 120 sends a minute: twice Gmail's usual 6,000 units, so a run outlasts the minute-long window
# without the bench taking minutes. Faster, and on a busy machine a run's own work per send
# (two ledger commits and the request) is what limits it, not the pacing.
UNITS_PER_MINUTE = 12_000
SENDS = 150


def case(results: Results, scratch: Path, bin_dir: Path, env: dict[str, str]) -> None:
    from tests.fake_google import COSTS, FakeGoogle, authorized_user_info

    network = make_network(scratch / "network", SENDS)
    ws = make_workspace(scratch / "ws")
    text = (ws / "profile.toml").read_text(encoding="utf-8")
    (ws / "profile.toml").write_text(
        text.replace("units_per_minute = 6000", f"units_per_minute = {UNITS_PER_MINUTE}"),
        encoding="utf-8",
    )
    crumbs = str(bin_dir / "breadcrumbs")
    run([crumbs, "sync", str(network), "-w", str(ws), "--no-prefect"], ws, env)
    with FakeGoogle(user="jordan.rivera@example.com") as fake:
        fake.state.set_quota(UNITS_PER_MINUTE, 60.0)
        refused: list[str] = []
        spent: list[tuple[float, int]] = []  # (when, units) of every call the fake allowed
        charge = fake.state.charge

        def counting(endpoint: str) -> bool:
            allowed = charge(endpoint)
            if not allowed:
                refused.append(endpoint)
            elif endpoint in COSTS:
                spent.append((time.time(), COSTS[endpoint]))
            return allowed

        fake.state.charge = counting  # type: ignore[method-assign]
        token = ws / "token.json"
        token.write_text(json.dumps(authorized_user_info(fake)), encoding="utf-8")
        os.chmod(token, 0o600)
        served = {
            **env,
            "BREADCRUMBS_GOOGLE_API_ENDPOINT": fake.url,
            "BREADCRUMBS_GOOGLE_TOKEN_URI": fake.token_uri,
        }
        sent = run(
            [crumbs, "follow-up", "--mode", "send", "--yes", "--no-prefect", "-w", str(ws)],
            ws,
            served,
        )
        times = sorted(a["at"] for a in fake.accepted_sends("messages.send"))
    # The quota is in units: a send is 100, and the mailer reads each one back (5). Measured
    # from the first send to the last, after the mailbox reads that precede the batch.
    start, end = times[0], times[-1]
    used = sum(units for when, units in spent if start < when <= end)
    per_minute = used / (end - start) * 60 if end > start else 0.0
    sends = (len(times) - 1) / (end - start) * 60 if end > start else 0.0
    results.add(
        Figure(
            "gmail",
            f"{len(times)} sends in {sent.seconds:.0f} s ({sends:.1f} sends/min), sustained",
            per_minute,
            "units/min",
            "the configured quota",
            UNITS_PER_MINUTE,
            "≥ 0.95×",
            per_minute >= 0.95 * UNITS_PER_MINUTE and len(times) == SENDS,
        )
    )
    results.add(
        Figure("gmail", "CPU per send of the follow-up process", sent.cpu / SENDS * 1000, "ms")
    )
    results.add(
        Figure(
            "gmail",
            "calls the fake refused for quota (429)",
            len(refused),
            "",
            goal="0",
            met=not refused,
        )
    )
