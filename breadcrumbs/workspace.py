"""Creating a workspace, and installing the bundled sample into one.

The sample's conversations are dated relative to the day it is first copied into a fresh
workspace (the latest becomes yesterday) and fixed then, so the demo always has thank-yous
due on its first run, and re-running it on a later day never thanks the same people twice.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from pathlib import Path

from breadcrumbs import clock
from breadcrumbs.profile import TEMPLATE_PATH
from breadcrumbs.settings import SAMPLE_DIR, Workspace

SAMPLE_TABLES = ("contacts.csv", "interactions.csv", "prospects.csv")


def init_workspace(workspace: Workspace, profile_from: Path | None = None) -> list[Path]:
    """Create the folders and a commented profile.toml; never overwrite what is there."""
    created = []
    for folder in (workspace.root, workspace.outbox):
        if not folder.exists():
            folder.mkdir(parents=True)
            created.append(folder)
    if not workspace.profile_path.exists():
        if profile_from is None:
            workspace.profile_path.write_text(blank_profile(), encoding="utf-8")
        else:
            shutil.copyfile(profile_from, workspace.profile_path)
        created.append(workspace.profile_path)
    return created


def blank_profile() -> str:
    """The commented template, its timezone set to this machine's zone (issue #8: left at
    UTC, a user in New York running at 8 pm got tomorrow's date)."""
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    zone = clock.machine_timezone()
    return text.replace('\ntimezone = ""\n', f'\ntimezone = "{zone}"\n', 1) if zone else text


def install_sample(workspace: Workspace) -> Path:
    """Copy the sample into `<workspace>/demo/` once, its dates moved to end yesterday."""
    init_workspace(workspace, profile_from=SAMPLE_DIR / "profile.toml")
    # A profile still blank from `breadcrumbs init` cannot sign the demo's emails: the
    # sample's own takes its place. One the user has edited is never touched.
    blank = {TEMPLATE_PATH.read_text(encoding="utf-8"), blank_profile()}
    if workspace.profile_path.read_text(encoding="utf-8") in blank:
        shutil.copyfile(SAMPLE_DIR / "profile.toml", workspace.profile_path)
    target = workspace.root / "demo"
    if (target / "contacts.csv").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    shift = _shift(SAMPLE_DIR / "interactions.csv", clock.today() - timedelta(days=1))
    for name in SAMPLE_TABLES:
        source = SAMPLE_DIR / name
        if name == "interactions.csv":
            _copy_shifted(source, target / name, shift)
        else:
            shutil.copyfile(source, target / name)
    return target


def _shift(interactions: Path, latest: date) -> timedelta:
    with interactions.open(newline="", encoding="utf-8") as handle:
        dates = [date.fromisoformat(row["date"]) for row in csv.DictReader(handle)]
    return latest - max(dates)


def _copy_shifted(source: Path, target: Path, shift: timedelta) -> None:
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    for row in rows:
        row["date"] = (date.fromisoformat(row["date"]) + shift).isoformat()
    temporary = target.with_suffix(".tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(target)
