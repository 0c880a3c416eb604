"""Helpers for the tests that run Breadcrumbs against the fake Google (tests/fake_google.py):
a workspace connected to it, a sender profile whose pacing costs milliseconds, a quick
Gmail mailer with a short timeout, and what the fake accepted, counted per recipient."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from breadcrumbs.deliver.gmail import gmail_mailer
from breadcrumbs.deliver.mailer import Mailer
from breadcrumbs.google.api import Pacer
from breadcrumbs.settings import Workspace
from tests.fake_google import FakeGoogle, RemoteFakeGoogle, authorized_user_info
from tests.follow_up_support import ME, write_profile

# Pacing at Gmail's real 6,000 units a minute makes each send wait about a second; the
# pacer itself has its own tests (test_google_mail.py), so these runs pace much faster.
FAST_UNITS_PER_MINUTE = 10_000_000
SHORT_TIMEOUT = 1.0  # seconds; the slow_after faults wait longer than this


def point_at(monkeypatch: pytest.MonkeyPatch, fake: FakeGoogle | RemoteFakeGoogle) -> None:
    """Gmail, Sheets and the token refresh all go to the fake."""
    monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", fake.url)
    monkeypatch.setenv("BREADCRUMBS_GOOGLE_TOKEN_URI", fake.token_uri)


def connect(root: Path, fake: FakeGoogle | RemoteFakeGoogle, **overrides: Any) -> Path:
    """Write token.json (0600) as `breadcrumbs auth` would have, with any field changed."""
    path = root / "token.json"
    path.write_text(json.dumps(authorized_user_info(fake, **overrides)), encoding="utf-8")
    os.chmod(path, 0o600)
    return path


@contextmanager
def serving(
    monkeypatch: pytest.MonkeyPatch, workspace: Workspace, **options: Any
) -> Iterator[FakeGoogle]:
    """A fake Google whose account is the profile's sender, the workspace connected to it."""
    options.setdefault("user", ME["email"])
    with FakeGoogle(**options) as fake:
        point_at(monkeypatch, fake)
        connect(workspace.root, fake)
        yield fake


def write_gmail_profile(workspace: Workspace) -> None:
    """The follow-up tests' sender profile, paced fast enough for a test."""
    write_profile(workspace)
    with workspace.profile_path.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[gmail]\nunits_per_minute = {FAST_UNITS_PER_MINUTE}\n")


def quick_mailer(workspace: Workspace, mode: str, timeout: float = SHORT_TIMEOUT) -> Mailer:
    """A Gmail mailer with a short client timeout and no real waiting between calls."""
    return gmail_mailer(
        "send" if mode == "send" else "drafts",
        workspace.root,
        timeout=timeout,
        pacer=Pacer(FAST_UNITS_PER_MINUTE),
        sleep=lambda seconds: None,
    )


def bare(address: str) -> str:
    """The address in a To header such as 'Ann Lee <a@example.com>', lowercased."""
    from email.utils import parseaddr

    return parseaddr(address)[1].lower()


def accepted_per_recipient(
    fake: FakeGoogle | RemoteFakeGoogle, endpoint: str = "messages.send"
) -> Counter[str]:
    """How many messages (or drafts) the fake stored for each recipient."""
    return Counter(bare(a["to"]) for a in fake.accepted_sends(endpoint))
