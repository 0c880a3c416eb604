"""Helpers for the follow-up tests: a sender profile, a small sheet, and ways to read back
what a run left behind (outbox files, ledger rows), all on the workspace's real DuckDB file.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest

from breadcrumbs.follow_up import FollowUpReport, run_follow_up
from breadcrumbs.settings import Workspace
from breadcrumbs.store.database import open_store
from breadcrumbs.sync import SyncReport, run_sync
from tests.conftest import write_csv

ME = {
    "name": "Jordan Rivera",
    "email": "jordan@example.com",
    "phone": "614-555-0100",
    "linkedin": "https://www.linkedin.com/in/jordan-rivera",
    "looking_for": "a data-platform role in Columbus",
}
SAMPLE_PITCH = (
    "I'm a data engineer with eight years of experience. I build the systems that collect a "
    "company's data, clean it up and deliver it, so people can trust their reports. I'm "
    "looking for a similar role here in Columbus."
)
INTERACTIONS_HEADER = "date,contact,kind,topic,notes,referrals"


def write_profile(
    workspace: Workspace, vcard: bool = True, pitch: str = SAMPLE_PITCH, **etiquette: int
) -> None:
    """The sender's profile, with any etiquette value changed for the test."""
    lines = ["[me]"]
    lines += [f'{key} = "{value}"' for key, value in ME.items()]
    lines += [f'pitch = "{pitch}"', 'signature = "Data engineer"', "", "[etiquette]"]
    lines += [f"{key} = {value}" for key, value in etiquette.items()]
    lines.append(f"vcard = {'true' if vcard else 'false'}")
    workspace.profile_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_sheet(workspace: Workspace, contacts: str, interactions: str = "") -> Path:
    """A sheet folder (contacts.csv, interactions.csv) inside the workspace."""
    folder = workspace.root / "sheet"
    write_csv(folder / "contacts.csv", contacts)
    write_csv(folder / "interactions.csv", interactions or INTERACTIONS_HEADER)
    return folder


def sync(workspace: Workspace) -> SyncReport:
    """Sync the workspace's sheet folder (the source is remembered after the first time)."""
    return run_sync(workspace, str(workspace.root / "sheet"))


def play(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, day: str, **options: Any
) -> FollowUpReport:
    """One day of the job search: move today, sync the sheet, run the follow-up batch."""
    monkeypatch.setenv("BREADCRUMBS_TODAY", day)
    sync(workspace)
    return run_follow_up(workspace, **options)


def outbox(workspace: Workspace) -> list[Path]:
    return sorted(workspace.outbox.glob("*.eml"))


def read_message(path: Path) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(path.read_bytes(), policy=policy.default))


def recipients(workspace: Workspace) -> list[str]:
    """The bare To address of every file in the outbox, sorted."""
    return sorted(read_message(p)["To"].addresses[0].addr_spec.lower() for p in outbox(workspace))


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return cast(str, part.get_content()).replace("\r\n", "\n")


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return cast(str, part.get_content()).replace("\r\n", "\n")


def ledger(workspace: Workspace) -> dict[str, str]:
    """Ledger key -> state."""
    with open_store(workspace) as con:
        return dict(con.execute("SELECT key, state FROM messages").fetchall())


def sql(workspace: Workspace, statement: str, params: list[Any] | None = None) -> list[Any]:
    with open_store(workspace) as con:
        return con.execute(statement, params or []).fetchall()


def states(report: FollowUpReport) -> dict[str, str]:
    """Recipient -> state of this run's outcomes, and 'waiting' for those held back."""
    out = {o.to.lower(): o.state for o in report.outcomes}
    out.update({w.due.email.lower(): "waiting" for w in report.waiting if w.due.email})
    return out


def waiting_reason(report: FollowUpReport, email: str) -> str:
    reasons = [w.reason for w in report.waiting if w.due.email.lower() == email.lower()]
    assert reasons, f"{email} is not waiting: {states(report)}"
    return reasons[0]
