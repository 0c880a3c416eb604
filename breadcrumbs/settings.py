"""Where things are: the workspace, and the folders shipped with Breadcrumbs.

The Google endpoint overrides (env `BREADCRUMBS_GOOGLE_API_ENDPOINT`,
`BREADCRUMBS_GOOGLE_TOKEN_URI`) are read where they are used, in google/api.py and
google/auth.py, and checked by `trusted_endpoint` here.

The workspace folder comes from `--workspace DIR`, else env `BREADCRUMBS_HOME`, else the
`data/` folder when running from a checkout, else the platform's user data folder
(`~/.local/share/breadcrumbs` on Linux). Everything a user keeps (profile, database, outbox, Google
tokens) lives inside it, so two workspaces share nothing: a career coach runs one per client.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from platformdirs import user_data_path

from breadcrumbs.errors import AuthError

PACKAGE_DIR = Path(__file__).resolve().parent
# A source checkout holds the package beside the user's design card (flows/, templates/,
# data/); an installed wheel carries templates and the sample inside the package instead.
CHECKOUT: Path | None = (
    PACKAGE_DIR.parent
    if (PACKAGE_DIR.parent / "pyproject.toml").is_file() and (PACKAGE_DIR.parent / "flows").is_dir()
    else None
)


def bundled(name: str, in_checkout: str) -> Path:
    """A folder shipped with Breadcrumbs: inside the installed package, or in the checkout."""
    inside = PACKAGE_DIR / name
    if inside.is_dir() or CHECKOUT is None:
        return inside
    return CHECKOUT / in_checkout


TEMPLATES_DIR = bundled("templates", "templates")
SAMPLE_DIR = bundled("sample", "data/sample")


def default_home() -> Path:
    if CHECKOUT is not None:
        return CHECKOUT / "data"
    return user_data_path("breadcrumbs")


HOME_ENV = "BREADCRUMBS_HOME"


@dataclass(frozen=True)
class Settings:
    home: Path


def _home_from_env() -> Path | None:
    """`BREADCRUMBS_HOME`, read as pydantic-settings read it here before: the name in any
    case, the last such variable winning, the value as a Path ("" is the current folder).
    Reading one variable does not need pydantic-settings, whose import cost every command
    about 30 ms (issue 11)."""
    found = None
    wanted = HOME_ENV.lower()
    for name, value in os.environ.items():
        if name.lower() == wanted:
            found = value
    return None if found is None else Path(found)


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


def trusted_endpoint(value: str, setting: str) -> str:
    """`value` if the OAuth token may be sent there: https://, or http:// to this machine.

    The endpoint overrides exist for the tests' fake Google on 127.0.0.1; any other plain
    http:// would carry the access and refresh tokens in the clear to whoever it names.
    """
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return value
    if parts.scheme == "http" and _is_loopback(host):
        return value
    raise AuthError(
        f"{setting}={value!r} is refused: the Google sign-in token would be sent there. "
        "Use an https:// address, or http:// only to this machine "
        "(127.0.0.1 or another 127.x.x.x, ::1, localhost)."
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def load_settings() -> Settings:
    home = _home_from_env()
    return Settings(home if home is not None else default_home())


def resolve_workspace(explicit: str | Path | None = None) -> Workspace:
    root = Path(explicit) if explicit else load_settings().home
    return Workspace(root.expanduser().resolve())


def demo_workspace() -> Workspace:
    """Where the bundled demo runs unless told otherwise: `demo/` inside the default
    workspace (data/demo in a checkout), so it never mixes with the user's own data."""
    return resolve_workspace(load_settings().home / "demo")
