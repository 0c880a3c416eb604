"""profile.toml: who the user is, and the etiquette every email follows.

The defaults here are the ones documented in breadcrumbs/profile_template.toml; a missing section
or key takes its default, an unknown key is an error (a typo must not pass silently).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from difflib import get_close_matches
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

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
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc}){_toml_hint(text, exc)}") from None
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_explain(err) for err in exc.errors())
        raise ProfileError(f"{path}: {problems}") from None
    try:
        clock.use_timezone(profile.me.timezone)
    except BreadcrumbsError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    return profile


_AT_LINE = re.compile(r"at line (\d+)")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(.*?)\s*$")
_BARE = re.compile(r"^(true|false|[+-]?\d[\d_]*(\.\d+)?|\[.*\]|\{.*\})$")


def _toml_hint(text: str, exc: tomllib.TOMLDecodeError) -> str:
    """The likely fix of the line the parser names: most often text written without quotes."""
    found = _AT_LINE.search(str(exc))
    lines = text.splitlines()
    if not found or not 0 < int(found[1]) <= len(lines):
        return "; fix the line it names"
    number = int(found[1])
    line = lines[number - 1]
    assignment = _ASSIGNMENT.match(line)
    if assignment is None:
        return f"; line {number} reads: {line.strip()}"
    key, value = assignment[1], assignment[2]
    if value[:1] in ('"', "'"):
        return (
            f"; line {number} reads: {line.strip()}; a text value ends with the quote it began with"
        )
    if not _BARE.match(value):
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'; text needs quotes: write line {number} as {key} = "{quoted}"'
    return f"; line {number} reads: {line.strip()}"


def _explain(err: ErrorDetails) -> str:
    """One validation error in the words of the file: section, key, and the likely key."""
    loc = [str(p) for p in err["loc"]]
    if err["type"] == "extra_forbidden":
        if len(loc) == 1:
            return f"unknown section [{loc[0]}]{_did_you_mean(loc[0], Profile.model_fields, '[]')}"
        section = Profile.model_fields.get(loc[0])
        known = section.annotation.model_fields if section and section.annotation else {}
        return f"unknown key `{loc[-1]}` in [{loc[0]}]{_did_you_mean(loc[-1], known, '``')}"
    where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else loc[0] if loc else "profile"
    return f"{where}: {err['msg']}"


def _did_you_mean(name: str, known: Iterable[str], marks: str) -> str:
    close = get_close_matches(name, list(known), n=1)
    return f"; did you mean {marks[0]}{close[0]}{marks[1]}?" if close else ""


def require_sender(profile: Profile, path: Path) -> None:
    """Emails need a name and an address to sign with; say which key is empty."""
    missing = [k for k in ("name", "email") if not getattr(profile.me, k).strip()]
    if missing:
        keys = ", ".join(f"[me] {k}" for k in missing)
        raise ProfileError(f"{path}: fill in {keys} before composing emails")
