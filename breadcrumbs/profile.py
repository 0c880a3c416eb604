"""profile.toml: who the user is, and the etiquette every email follows.

The defaults here are the ones documented in breadcrumbs/profile_template.toml; a missing section
or key takes its default, an unknown key is an error (a typo must not pass silently).

A profile whose every value is already of its key's type and within its bounds (what a user
writes, and `breadcrumbs init`) is taken as it is. Anything else (a number in quotes, a key
misspelt, a value out of range) is judged by pydantic, whose lax conversions and messages are
the profile's rules (profile_check.py): its import and the model's building cost every command
about 0.1 CPU-s, twice on the README's path (issue 11).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from breadcrumbs import clock
from breadcrumbs.errors import BreadcrumbsError, ProfileError

TEMPLATE_PATH = Path(__file__).with_name("profile_template.toml")


@dataclass(frozen=True)
class Me:
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


@dataclass(frozen=True)
class Etiquette:
    thank_you_days: int = field(default=3, metadata={"ge": 0, "le": 60})
    min_gap_days: int = field(default=3, metadata={"ge": 0, "le": 60})
    quiet_days: int = field(default=14, metadata={"ge": 0, "le": 365})
    cold_days: int = field(default=45, metadata={"ge": 1, "le": 3650})
    daily_cap: int = field(default=500, metadata={"ge": 0})
    vcard: bool = True


@dataclass(frozen=True)
class Gmail:
    units_per_minute: int = field(default=6000, metadata={"ge": 200})
    timeout_seconds: float = field(default=30.0, metadata={"gt": 0, "le": 600})


SlashDates = Literal["month-first", "day-first"]


@dataclass(frozen=True)
class Source:
    path: str = ""
    slash_dates: SlashDates = "month-first"
    write_back: bool = False


@dataclass(frozen=True)
class Profile:
    me: Me = field(default_factory=Me)
    etiquette: Etiquette = field(default_factory=Etiquette)
    gmail: Gmail = field(default_factory=Gmail)
    source: Source = field(default_factory=Source)


# Each section's class, and each key's type as written above (the annotations are strings).
SECTIONS: dict[str, type[Any]] = {
    "me": Me,
    "etiquette": Etiquette,
    "gmail": Gmail,
    "source": Source,
}
KINDS: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "SlashDates": SlashDates,
}


def _as_written(kind: Any, limits: dict[str, float], value: Any) -> Any:
    """`value` as the profile keeps it, if it is already of `kind` and within its limits
    (then pydantic would keep it so too); else `_NOT_PLAIN`, for pydantic to judge."""
    if kind is str or kind is bool:
        return value if type(value) is kind else _NOT_PLAIN
    if kind is int:
        plain = type(value) is int
    elif kind is float:
        plain = type(value) in (int, float) and math.isfinite(value)
    else:  # a Literal of words
        return value if type(value) is str and value in get_args(kind) else _NOT_PLAIN
    if not plain or not _within(value, limits):
        return _NOT_PLAIN
    return float(value) if kind is float else value


_NOT_PLAIN = object()


def _within(value: float, limits: dict[str, float]) -> bool:
    return (
        value >= limits.get("ge", -math.inf)
        and value > limits.get("gt", -math.inf)
        and value <= limits.get("le", math.inf)
    )


def _plain_profile(data: dict[str, Any]) -> Profile | None:
    """The profile `data` describes, when every value is plain (see `_as_written`)."""
    sections = {}
    for name, given in data.items():
        section = SECTIONS.get(name)
        if section is None or type(given) is not dict:
            return None
        keys = {f.name: f for f in fields(section)}
        values = {}
        for key, value in given.items():
            known = keys.get(key)
            if known is None:
                return None
            kept = _as_written(KINDS[str(known.type)], dict(known.metadata), value)
            if kept is _NOT_PLAIN:
                return None
            values[key] = kept
        sections[name] = section(**values)
    return Profile(**sections)


def profile_from(data: dict[str, Any], path: Path) -> Profile:
    """The profile a parsed profile.toml describes, or a ProfileError naming each problem."""
    profile = _plain_profile(data)
    if profile is None:
        from breadcrumbs.profile_check import checked_profile

        profile = checked_profile(data, path)
    return profile


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
    profile = profile_from(data, path)
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


def require_sender(profile: Profile, path: Path) -> None:
    """Emails need a name and an address to sign with; say which key is empty."""
    missing = [k for k in ("name", "email") if not getattr(profile.me, k).strip()]
    if missing:
        keys = ", ".join(f"[me] {k}" for k in missing)
        raise ProfileError(f"{path}: fill in {keys} before composing emails")
