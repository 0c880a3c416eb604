"""A workspace made by the release before person identities (commit a32d02d, see
tests/fixtures/release-a32d02d/README.md) opened with today's code: every email its ledger
holds is still recognised, and its people keep their identity through later edits."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breadcrumbs.cli import app
from breadcrumbs.settings import Workspace
from tests.conftest import FIXTURES
from tests.follow_up_support import ledger, play, recipients, sql, states, waiting_reason

RELEASE = FIXTURES / "release-a32d02d"
OLD_LEDGER = {
    "thank-you:i:4d24e15379082b45": "written",  # Ann's coffee on Nov 24
    "thank-you:i:1d86c9bd14eb43a3": "written",  # Dee's call on Nov 23
    "intro:e:bob@example.com": "written",
    "intro:e:eve@example.com": "written",
}


@pytest.fixture
def upgraded(tmp_path: Path) -> Workspace:
    """The old release's workspace: its database, profile and sheet; the outbox is empty."""
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    ws.db_path.write_bytes(gzip.decompress((RELEASE / "breadcrumbs.duckdb.gz").read_bytes()))
    shutil.copy(RELEASE / "profile.toml", ws.profile_path)
    shutil.copytree(RELEASE / "sheet", ws.root / "sheet")
    return ws


def test_an_upgraded_workspace_recognises_every_email_it_sent(
    upgraded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next day's sync and follow-up send nothing new; status shows the old rows."""
    report = play(upgraded, monkeypatch, "2026-11-26")
    assert report.outcomes == []
    assert ledger(upgraded) == OLD_LEDGER
    assert recipients(upgraded) == []
    # The ids the old release gave its contacts are their person ids now.
    assert sql(upgraded, "SELECT person_id, email FROM people ORDER BY 1") == [
        ("e:ann@example.com", "ann@example.com"),
        ("e:bob@example.com", "bob@example.com"),
        ("e:dee@example.com", "dee@example.com"),
        ("e:eve@example.com", "eve@example.com"),
        ("e:zoe@example.com", "zoe@example.com"),
        ("n:cy phone", None),
    ]
    result = CliRunner().invoke(app, ["status", "--workspace", str(upgraded.root)])
    assert result.exit_code == 0, result.output
    assert "written    4" in result.stdout


def test_people_of_an_upgraded_workspace_keep_their_ledger_through_an_address_change(
    upgraded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann, Bob and Zoë change address after the upgrade: no second thank-you or intro,
    and Zoë's command-line opt-out follows her; Cy's new address makes him mailable."""
    contacts = (upgraded.root / "sheet" / "contacts.csv").read_text(encoding="utf-8")
    edited = (
        contacts.replace("ann@example.com", "ann@newjob.example")
        .replace("bob@example.com", "bob@beta.example")
        .replace("zoe@example.com", "zoe@zeta.example")
        .replace(",Cy Phone,", "cy@gamma.example,Cy Phone,")
    )
    (upgraded.root / "sheet" / "contacts.csv").write_text(edited, encoding="utf-8")
    report = play(upgraded, monkeypatch, "2026-11-26")
    # Cy's call on Nov 24 was never thanked (no address then): now it can be.
    assert states(report) == {"cy@gamma.example": "written", "zoe@zeta.example": "waiting"}
    assert waiting_reason(report, "zoe@zeta.example") == "opted out"
    assert {k: v for k, v in ledger(upgraded).items() if k in OLD_LEDGER} == OLD_LEDGER
    assert len(ledger(upgraded)) == len(OLD_LEDGER) + 1
    assert sql(upgraded, "SELECT contact_id FROM contacts WHERE name = 'Cy Phone'") == [
        ("n:cy phone",)
    ]
