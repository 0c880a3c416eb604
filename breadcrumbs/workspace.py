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
from breadcrumbs.errors import WorkspaceError
from breadcrumbs.profile import TEMPLATE_PATH, load_profile
from breadcrumbs.settings import SAMPLE_DIR, Workspace
from breadcrumbs.store.database import get_meta, open_store

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
    """Copy the sample into `<workspace>/sample/` once, its dates moved to end yesterday.

    The demo runs in a workspace of its own (`demo_workspace`): one that holds a network of
    the user's is refused, or the next follow-up would write to the demo's people from them.
    """
    refuse_a_users_workspace(workspace)
    init_workspace(workspace, profile_from=SAMPLE_DIR / "profile.toml")
    # A profile still blank from `breadcrumbs init` cannot sign the demo's emails: the
    # sample's own takes its place. One the user has edited is never touched.
    if workspace.profile_path.read_text(encoding="utf-8") in _blank_profiles():
        shutil.copyfile(SAMPLE_DIR / "profile.toml", workspace.profile_path)
    target = sample_folder(workspace)
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


def _blank_profiles() -> set[str]:
    """A profile as `breadcrumbs init` writes it, now or before it set the time zone."""
    return {TEMPLATE_PATH.read_text(encoding="utf-8"), blank_profile()}


def sample_folder(workspace: Workspace) -> Path:
    return workspace.root / "sample"


def refuse_a_users_workspace(workspace: Workspace) -> None:
    """A workspace is the user's once it syncs a source other than the sample, or signs with
    a profile they filled in: the demo must not take it over."""
    profile = load_profile(workspace.profile_path)
    source = profile.source.path
    if not source and workspace.db_path.exists():
        with open_store(workspace) as con:
            source = get_meta(con, "source") or ""
    if source and Path(source) != sample_folder(workspace):
        raise WorkspaceError(
            f"{workspace.root} holds your own network (source {source}): the demo runs in a "
            "workspace of its own; leave out --workspace to run it there"
        )
    untouched = {*_blank_profiles(), (SAMPLE_DIR / "profile.toml").read_text(encoding="utf-8")}
    if (
        workspace.profile_path.exists()
        and workspace.profile_path.read_text(encoding="utf-8") not in untouched
    ):
        raise WorkspaceError(
            f"{workspace.profile_path} is your own profile: the demo runs in a workspace of "
            "its own; leave out --workspace to run it there"
        )


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
