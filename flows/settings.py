"""Typed settings: the one place environment variables are read.

The workspace folder comes from `--workspace DIR`, else env `BREADCRUMBS_HOME`, else the
`data/` folder of the checkout. Everything a user keeps (profile, database, outbox, Google
tokens) lives inside it, so two workspaces share nothing: a career coach runs one per client.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BREADCRUMBS_", extra="ignore")

    home: Path = PROJECT_ROOT / "data"
    # Point Gmail and Sheets at another server (the tests' fake), e.g. http://127.0.0.1:8080/
    google_api_endpoint: str | None = None
    # Point OAuth token refresh elsewhere. Only this explicit setting may: a token_uri written
    # inside token.json is ignored, so a tampered file cannot send the refresh token away.
    google_token_uri: str | None = None


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def profile_path(self) -> Path:
        return self.root / "profile.toml"

    @property
    def db_path(self) -> Path:
        return self.root / "breadcrumbs.duckdb"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def credentials_path(self) -> Path:
        return self.root / "credentials.json"

    @property
    def token_path(self) -> Path:
        return self.root / "token.json"

    @property
    def lock_path(self) -> Path:
        return self.root / ".breadcrumbs.lock"

    @property
    def templates(self) -> Path:
        """A workspace may override any template by putting a file of the same name here."""
        return self.root / "templates"


def load_settings() -> Settings:
    return Settings()


def resolve_workspace(explicit: str | Path | None = None) -> Workspace:
    root = Path(explicit) if explicit else load_settings().home
    return Workspace(root.expanduser().resolve())
