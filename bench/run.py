"""`make bench`: 10,000 people met yesterday -> 10,000 thank-yous in the outbox.

Measures Breadcrumbs against the yardstick DESIGN.md names, mailmerge rendering the same
number of plain-text messages from a CSV, both run in this command on this machine, and
reports ratios (these machines are noisy: absolute seconds mean little from run to run).
Also times each stage in-process, so a regression points at its stage.

    python -m bench.run [--people 10000]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

TODAY = date(2026, 11, 25)
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def make_network(folder: Path, people: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    met = (TODAY - timedelta(days=1)).isoformat()
    with (folder / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "company", "title", "relationship"])
        for i in range(people):
            writer.writerow(
                [
                    f"person{i}@example.com",
                    f"First{i}",
                    f"Last{i}",
                    f"Company {i % 300}",
                    "Engineer",
                    "former co-worker",
                ]
            )
    with (folder / "interactions.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "contact", "kind", "topic", "notes", "referrals"])
        for i in range(people):
            writer.writerow(
                [
                    met,
                    f"person{i}@example.com",
                    "coffee",
                    "your team's move to the cloud",
                    "private",
                    "",
                ]
            )


def make_mailmerge(folder: Path, people: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mailmerge_template.txt").write_text(
        "TO: {{email}}\nSUBJECT: Thanks for the coffee, {{first_name}}\n"
        "FROM: Jordan Rivera <jordan.rivera@example.com>\n\n"
        "Hi {{first_name}},\n\nThank you for meeting me for coffee yesterday. I really enjoyed "
        "talking with you about {{topic}}.\n\nI'm looking for a data-platform role. Any "
        "referrals are appreciated.\n\nJordan Rivera\njordan.rivera@example.com\n",
        encoding="utf-8",
    )
    (folder / "mailmerge_server.conf").write_text(
        "[smtp_server]\nhost = 127.0.0.1\nport = 25\nsecurity = Never\nusername = jordan\n",
        encoding="utf-8",
    )
    with (folder / "mailmerge_database.csv").open("w", newline="", encoding="utf-8") as h:
        writer = csv.writer(h)
        writer.writerow(["email", "first_name", "topic"])
        for i in range(people):
            writer.writerow(
                [f"person{i}@example.com", f"First{i}", "your team's move to the cloud"]
            )


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and the child's peak memory in MiB."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak


def stages(workspace: Path, source: Path) -> list[tuple[str, float]]:
    """Each pipeline stage in-process, to see where the time goes."""
    os.environ["BREADCRUMBS_TODAY"] = TODAY.isoformat()
    from breadcrumbs.deliver.outbox import OutboxMailer
    from breadcrumbs.follow_up import (
        compose_stage,
        deliver_stage,
        detect_stage,
        load_checked_profile,
    )
    from breadcrumbs.profile import load_profile
    from breadcrumbs.settings import Workspace
    from breadcrumbs.sync import load_stage, read_stage, validate_stage

    ws = Workspace(workspace)
    results: list[tuple[str, float]] = []
    values: dict[str, Any] = {}

    def step(name: str, fn: Callable[[], Any]) -> None:
        start = time.perf_counter()
        values[name] = fn()
        results.append((name, time.perf_counter() - start))

    profile = load_profile(ws.profile_path)
    step("read", lambda: read_stage(str(source)))
    step("validate", lambda: validate_stage(values["read"], profile))
    step("load", lambda: load_stage(ws, values["validate"], str(source)))
    checked = load_checked_profile(ws)
    step("detect", lambda: detect_stage(ws, checked))
    step("compose", lambda: compose_stage(ws, checked, values["detect"].due))
    step("deliver", lambda: deliver_stage(ws, OutboxMailer(ws.outbox), values["compose"][0]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    args = parser.parse_args()
    env = {
        **os.environ,
        "BREADCRUMBS_TODAY": TODAY.isoformat(),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)  # the plain path: no server in the measurement
    # Inside the checkout, not /tmp: on these machines creating a file in /tmp costs 1 ms,
    # twenty times /work, and the outbox would measure the file system, not Breadcrumbs.
    (ROOT / ".bench").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-", dir=ROOT / ".bench"))
    try:
        make_network(scratch / "network", args.people)
        make_mailmerge(scratch / "mailmerge", args.people)
        profile = ROOT / "data" / "sample" / "profile.toml"
        print(f"{args.people:,} people met yesterday -> {args.people:,} emails", flush=True)

        mm_seconds, mm_peak = timed(
            [str(BIN / "mailmerge"), "--dry-run", "--no-limit", "--output-format", "raw"],
            scratch / "mailmerge",
            env,
        )

        # The file system's own share: the same number of 5 kB files, temp file + rename,
        # in plain Python. On these machines it swings several-fold from run to run.
        fs_dir = scratch / "fs"
        fs_dir.mkdir()
        start = time.perf_counter()
        for i in range(args.people):
            temporary = fs_dir / f".{i}.tmp"
            temporary.write_bytes(b"x" * 5000)
            os.replace(temporary, fs_dir / f"{i}.eml")
        fs_seconds = time.perf_counter() - start

        runs = []
        for label, extra in (("outbox, vCard on", True), ("outbox, vCard off", False)):
            ws = scratch / f"ws-{extra}"
            ws.mkdir()
            # The daily cap would stop the batch at 500: the bench measures the whole batch.
            text = profile.read_text(encoding="utf-8").replace(
                "daily_cap = 500", "daily_cap = 1000000"
            )
            if not extra:
                text = text.replace("vcard = true", "vcard = false")
            (ws / "profile.toml").write_text(text, encoding="utf-8")
            crumbs = str(BIN / "breadcrumbs")
            sync_s, _ = timed([crumbs, "sync", str(scratch / "network"), "-w", str(ws)], ROOT, env)
            follow_s, peak = timed([crumbs, "follow-up", "--no-sync", "-w", str(ws)], ROOT, env)
            files = len(list((ws / "outbox").glob("*.eml")))
            runs.append((label, sync_s, follow_s, peak, files))

        print(f"\n{'run':28} {'seconds':>8} {'x mailmerge':>12} {'peak MiB':>9} {'files':>7}")
        print(
            f"{'mailmerge --dry-run (text)':28} {mm_seconds:8.2f} {1.0:12.2f} "
            f"{mm_peak:9.0f} {'-':>7}"
        )
        print(
            f"{'plain file writes (fs cost)':28} {fs_seconds:8.2f} "
            f"{fs_seconds / mm_seconds:12.2f} {'-':>9} {args.people:7,}"
        )
        for label, sync_s, follow_s, peak, files in runs:
            total = sync_s + follow_s
            print(
                f"{'breadcrumbs ' + label:28} {total:8.2f} {total / mm_seconds:12.2f} "
                f"{peak:9.0f} {files:7,}"
            )
            print(f"{'  of which sync':28} {sync_s:8.2f} {sync_s / mm_seconds:12.2f}")
        ws = scratch / "ws-stages"
        ws.mkdir()
        (ws / "profile.toml").write_text(
            profile.read_text(encoding="utf-8").replace("daily_cap = 500", "daily_cap = 1000000"),
            encoding="utf-8",
        )
        print("\nstages, in-process (seconds):")
        for name, seconds in stages(ws, scratch / "network"):
            print(f"  {name:9} {seconds:6.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
