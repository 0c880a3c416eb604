"""Shared fixtures: a fresh workspace on a real DuckDB file, a fixed today, and one real
Prefect server for the whole session (starting one costs about 20 s, so only once)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Offline machines: Prefect must not try to report analytics. Set before Prefect is imported.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from breadcrumbs.settings import Workspace
from breadcrumbs.workspace import init_workspace
from tests.fake_google import FakeGoogle

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _machine_in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Days are counted in UTC on every test machine: a profile without `[me] timezone`
    takes the machine's zone (TZ first), and a test's zone never leaks into the next."""
    from breadcrumbs import clock

    monkeypatch.setenv("TZ", "UTC")
    yield
    clock.use_timezone("UTC")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """An empty workspace in a temporary folder, with the blank profile."""
    ws = Workspace(tmp_path / "ws")
    init_workspace(ws)
    return ws


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> str:
    """Fix the program's today; tests move it with monkeypatch.setenv as a search goes on."""
    monkeypatch.setenv("BREADCRUMBS_TODAY", "2026-11-25")
    return "2026-11-25"


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a CSV given as an indented block; leading spaces of each line are dropped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [line.strip() for line in text.strip().splitlines()]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real Prefect server subprocess with a fresh database, shared by the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    """A fake Google (Gmail, Sheets, OAuth token) on 127.0.0.1, with Breadcrumbs pointed at
    it through BREADCRUMBS_GOOGLE_API_ENDPOINT and BREADCRUMBS_GOOGLE_TOKEN_URI."""
    with FakeGoogle() as server:
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_TOKEN_URI", server.token_uri)
        monkeypatch.setenv("BREADCRUMBS_GOOGLE_API_ENDPOINT", server.url)
        yield server
