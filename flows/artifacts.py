"""What every flow's artifacts share: keys that name their workspace, and a progress
artifact cheap enough to update from a loop over ten thousand emails."""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)

from breadcrumbs import clock
from breadcrumbs.follow_up import load_checked_profile
from breadcrumbs.settings import Workspace
from breadcrumbs.stats import funnel_markdown, read_funnel
from breadcrumbs.store.database import open_store


def artifact_key(workspace: Workspace, what: str) -> str:
    """`<what>-<folder>-<hash>`: many workspaces are called `data`, and two workspaces must
    never overwrite each other's latest artifact. Prefect allows lowercase letters, digits
    and dashes only, so the folder's name is folded to those and its path hashed."""
    folded = unicodedata.normalize("NFKD", workspace.root.name).encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.decode().lower()).strip("-")[:30].strip("-")
    digest = hashlib.sha256(str(workspace.root).encode()).hexdigest()[:8]
    return f"{what}-{slug or 'workspace'}-{digest}"


# A progress update is a call to the server (tens of ms of CPU on both sides): at most one
# per SHOW_EVERY seconds and per 1% done, so a batch pays for a bounded number at any size.
SHOW_EVERY = 5.0


class Progress:
    """A progress artifact updated at most once every SHOW_EVERY seconds and once per 1%, and
    at the end: at most 100 updates and one per 5 s of delivery, never one per email."""

    def __init__(self, key: str, description: str) -> None:
        created = create_progress_artifact(0.0, key=key, description=description)
        assert isinstance(created, UUID)  # the sync API: these tasks are not coroutines
        self.id = created
        self.shown = 0.0
        self.at = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        percent = 100.0 * done / total if total else 100.0
        now = time.monotonic()
        if percent >= 100.0 or (percent - self.shown >= 1.0 and now - self.at >= SHOW_EVERY):
            self._show(percent, now)

    def finish(self) -> None:
        if self.shown < 100.0:
            self._show(100.0, time.monotonic())

    def _show(self, percent: float, now: float) -> None:
        update_progress_artifact(self.id, percent)
        self.shown, self.at = percent, now


def publish_funnel(workspace: Workspace, month: str | None = None) -> None:
    """The networking funnel, left by both the follow-up and the monthly digest."""
    profile = load_checked_profile(workspace)
    with open_store(workspace) as con:
        funnel = read_funnel(
            con,
            month or clock.today().strftime("%Y-%m"),
            clock.today(),
            profile.me.email,
            profile.etiquette.thank_you_days,
        )
    create_markdown_artifact(
        key=artifact_key(workspace, "funnel"),
        markdown=funnel_markdown(funnel),
        description="Your networking funnel",
    )
