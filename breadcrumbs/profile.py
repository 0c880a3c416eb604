"""profile.toml: who the user is, and the etiquette every email follows.

The defaults here are the ones documented in breadcrumbs/profile_template.toml; a missing section
or key takes its default, an unknown key is an error (a typo must not pass silently).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from breadcrumbs import clock
from breadcrumbs.errors import BreadcrumbsError, ProfileError

TEMPLATE_PATH = Path(__file__).with_name("profile_template.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Me(_Section):
    name: str = ""
    email: str = ""
    phone: str = ""
    linkedin: str = ""
    looking_for: str = ""
    pitch: str = ""
    signature: str = ""
    timezone: str = ""  # empty: the machine's zone (`breadcrumbs init` writes its name)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else ""


class Etiquette(_Section):
    thank_you_days: int = Field(3, ge=0, le=60)
    min_gap_days: int = Field(3, ge=0, le=60)
    quiet_days: int = Field(14, ge=0, le=365)
    cold_days: int = Field(45, ge=1, le=3650)
    daily_cap: int = Field(500, ge=0)
    vcard: bool = True


class Gmail(_Section):
    units_per_minute: int = Field(6000, ge=200)
    timeout_seconds: float = Field(30.0, gt=0, le=600)


class Source(_Section):
    path: str = ""
    slash_dates: Literal["month-first", "day-first"] = "month-first"
    write_back: bool = False


class Profile(_Section):
    me: Me = Me()
    etiquette: Etiquette = Etiquette()
    gmail: Gmail = Gmail()
    source: Source = Source()


def load_profile(path: Path) -> Profile:
    """Read profile.toml; a missing file gives the defaults (a sync needs no profile)."""
    if not path.exists():
        return Profile()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc}); fix the line it names") from None
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ProfileError(f"{path}: {problems}") from None
    try:
        clock.use_timezone(profile.me.timezone)
    except BreadcrumbsError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    return profile


def require_sender(profile: Profile, path: Path) -> None:
    """Emails need a name and an address to sign with; say which key is empty."""
    missing = [k for k in ("name", "email") if not getattr(profile.me, k).strip()]
    if missing:
        keys = ", ".join(f"[me] {k}" for k in missing)
        raise ProfileError(f"{path}: fill in {keys} before composing emails")
