"""profile.toml reads as it did when pydantic judged every value (issue 11): a plain profile
is taken without pydantic, anything else goes to pydantic, and either way the same profile,
the same conversions and the same messages come out.

The reference is the pydantic models profile.py had before, copied here unchanged."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from datetime import date, datetime, time
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from breadcrumbs.errors import ProfileError
from breadcrumbs.profile import (
    Etiquette,
    Gmail,
    Me,
    Profile,
    Source,
    _plain_profile,
    load_profile,
    profile_from,
)
from breadcrumbs.workspace import blank_profile

PATH = Path("profile.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OldMe(_Section):
    name: str = ""
    email: str = ""
    phone: str = ""
    linkedin: str = ""
    looking_for: str = ""
    pitch: str = ""
    signature: str = ""
    timezone: str = ""


class OldEtiquette(_Section):
    thank_you_days: int = Field(3, ge=0, le=60)
    min_gap_days: int = Field(3, ge=0, le=60)
    quiet_days: int = Field(14, ge=0, le=365)
    cold_days: int = Field(45, ge=1, le=3650)
    daily_cap: int = Field(500, ge=0)
    vcard: bool = True


class OldGmail(_Section):
    units_per_minute: int = Field(6000, ge=200)
    timeout_seconds: float = Field(30.0, gt=0, le=600)


class OldSource(_Section):
    path: str = ""
    slash_dates: Literal["month-first", "day-first"] = "month-first"
    write_back: bool = False


class OldProfile(_Section):
    me: OldMe = OldMe()
    etiquette: OldEtiquette = OldEtiquette()
    gmail: OldGmail = OldGmail()
    source: OldSource = OldSource()


# The model names appear in pydantic's messages ("a valid dictionary or instance of Me").
for _model, _name in (
    (OldMe, "Me"),
    (OldEtiquette, "Etiquette"),
    (OldGmail, "Gmail"),
    (OldSource, "Source"),
    (OldProfile, "Profile"),
):
    _model.__name__ = _name
    _model.model_rebuild(force=True)


def _old_explain(err: ErrorDetails) -> str:
    loc = [str(p) for p in err["loc"]]
    if err["type"] == "extra_forbidden":
        if len(loc) == 1:
            return (
                f"unknown section [{loc[0]}]{_did_you_mean(loc[0], OldProfile.model_fields, '[]')}"
            )
        section = OldProfile.model_fields.get(loc[0])
        annotation: Any = section.annotation if section else None
        known = annotation.model_fields if annotation else {}
        return f"unknown key `{loc[-1]}` in [{loc[0]}]{_did_you_mean(loc[-1], known, '``')}"
    where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else loc[0] if loc else "profile"
    return f"{where}: {err['msg']}"


def _did_you_mean(name: str, known: Iterable[str], marks: str) -> str:
    close = get_close_matches(name, list(known), n=1)
    return f"; did you mean {marks[0]}{close[0]}{marks[1]}?" if close else ""


def old_reading(data: dict[str, Any]) -> Any:
    """What profile.py made of `data` before: every key's value with its type, or the message."""
    try:
        profile = OldProfile.model_validate(data)
    except ValidationError as exc:
        return f"{PATH}: " + "; ".join(_old_explain(err) for err in exc.errors())
    return _typed(profile.model_dump())


def new_reading(data: dict[str, Any]) -> Any:
    try:
        profile = profile_from(data, PATH)
    except ProfileError as exc:
        return str(exc)
    return _typed(
        {
            name: {key: getattr(getattr(profile, name), key) for key in keys}
            for name, keys in _KEYS.items()
        }
    )


_KEYS = {
    "me": list(OldMe.model_fields),
    "etiquette": list(OldEtiquette.model_fields),
    "gmail": list(OldGmail.model_fields),
    "source": list(OldSource.model_fields),
}


def _typed(sections: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Each value with its type: True and 1, 30 and 30.0 must not pass for each other."""
    return [
        (name, key, type(value).__name__, repr(value))
        for name, values in sections.items()
        for key, value in values.items()
    ]


KEYS = [key for keys in _KEYS.values() for key in keys] + ["nmae", "dailycap", "vcrad", "zone"]
SECTIONS = [*_KEYS, "etiquete", "mail", "extra"]
BOUNDARIES = [-1, 0, 1, 3, 59, 60, 61, 199, 200, 365, 366, 600, 601, 3650, 3651, 10**20]
VALUES = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(),
    st.booleans(),
    st.sampled_from([0.0, 0.5, 1.0, 30.0, 600.0, 600.5, -0.0, math.inf, -math.inf, math.nan]),
    st.floats(),
    st.sampled_from(
        [
            "",
            "x",
            "Ann Lee",
            "5",
            " 5 ",
            "5_0",
            "5.0",
            "1e3",
            "yes",
            "no",
            "true",
            "off",
            "1",
            "0",
            "month-first",
            "day-first",
            "Month-First",
            "inf",
            "nan",
            "30",
            "600",
            "Europe/Oslo",
        ]
    ),
    st.text(max_size=8),
    st.sampled_from([date(2026, 1, 2), datetime(2026, 1, 2, 3, 4), time(5, 6)]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(KEYS), st.integers(), max_size=2),
)
SECTION_VALUES = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6),
    VALUES,
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(SECTIONS), SECTION_VALUES, max_size=5))
def test_a_profile_reads_as_pydantic_read_it(data: dict[str, Any]) -> None:
    """Any parsed profile: the same values of the same types, or the same message."""
    assert new_reading(data) == old_reading(data)


PLAIN = {
    "me": {"name": "Ann Lee", "email": "ann@example.com", "timezone": "Europe/Oslo"},
    "etiquette": {"thank_you_days": 60, "cold_days": 1, "daily_cap": 0, "vcard": False},
    "gmail": {"units_per_minute": 200, "timeout_seconds": 600},
    "source": {"slash_dates": "day-first", "write_back": True, "path": "sheet.csv"},
}


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("etiquette", "daily_cap", True),  # pydantic: 1, an int
        ("etiquette", "daily_cap", "5"),  # pydantic: 5
        ("etiquette", "daily_cap", 5.0),  # pydantic: 5
        ("etiquette", "thank_you_days", 61),  # pydantic: out of range
        ("etiquette", "vcard", 1),  # pydantic: True
        ("etiquette", "vcard", "yes"),
        ("gmail", "timeout_seconds", True),  # pydantic: 1.0
        ("gmail", "timeout_seconds", 0),  # pydantic: must be greater than 0
        ("gmail", "timeout_seconds", math.nan),
        ("me", "name", 3),
        ("source", "slash_dates", "Day-First"),
        ("me", "nmae", "Ann"),
    ],
)
def test_a_value_that_is_not_plain_is_left_to_pydantic(section: str, key: str, value: Any) -> None:
    """What pydantic would convert or refuse is never taken as it is."""
    assert _plain_profile({section: {key: value}}) is None
    assert new_reading({section: {key: value}}) == old_reading({section: {key: value}})


def test_a_plain_profile_is_taken_as_written() -> None:
    """Every key of its own type within its bounds: no pydantic, the same profile."""
    plain = _plain_profile(PLAIN)
    assert plain == Profile(
        Me(name="Ann Lee", email="ann@example.com", timezone="Europe/Oslo"),
        Etiquette(thank_you_days=60, cold_days=1, daily_cap=0, vcard=False),
        Gmail(units_per_minute=200, timeout_seconds=600.0),
        Source(path="sheet.csv", slash_dates="day-first", write_back=True),
    )
    assert plain is not None and type(plain.gmail.timeout_seconds) is float
    assert new_reading(PLAIN) == old_reading(PLAIN)


def test_the_blank_profile_init_writes_is_plain(tmp_path: Path) -> None:
    """`breadcrumbs init`'s profile, and the bundled sample's, never need pydantic."""
    sample = Path(__file__).resolve().parent.parent / "data" / "sample" / "profile.toml"
    for text in (blank_profile(), sample.read_text(encoding="utf-8")):
        data = tomllib.loads(text)
        assert _plain_profile(data) is not None
        assert new_reading(data) == old_reading(data)
        (tmp_path / "profile.toml").write_text(text, encoding="utf-8")
        load_profile(tmp_path / "profile.toml")
