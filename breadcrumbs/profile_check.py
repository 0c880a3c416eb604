"""The profile's rules for a value that is not plain: pydantic's, as they always were.

profile.py takes a profile.toml whose values are already of their key's type and within
bounds; any other (a number in quotes, a date, a key misspelt, a value out of range) comes
here, where pydantic models built from profile.py's dataclasses (same names, types, defaults
and bounds) convert it or name each problem in the file's words. Imported only then: pydantic
costs a command about 0.1 CPU-s to import and build (issue 11).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, fields
from difflib import get_close_matches
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import ErrorDetails

from breadcrumbs.errors import ProfileError
from breadcrumbs.profile import KINDS, SECTIONS, Profile


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


@cache
def profile_model() -> type[BaseModel]:
    """`Profile` as a pydantic model: one model per section, unknown keys forbidden."""
    sections: dict[str, Any] = {}
    for name, section in SECTIONS.items():
        keys: dict[str, Any] = {}
        for f in fields(section):
            assert f.default is not MISSING  # every key has its default
            keys[f.name] = (KINDS[str(f.type)], Field(f.default, **dict(f.metadata)))
        model = create_model(section.__name__, __base__=_Section, **keys)
        sections[name] = (model, model())
    return create_model("Profile", __base__=_Section, **sections)


def checked_profile(data: dict[str, Any], path: Path) -> Profile:
    """`data` converted as pydantic converts it, or a ProfileError naming every problem."""
    model = profile_model()
    try:
        checked = model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_explain(model, err) for err in exc.errors())
        raise ProfileError(f"{path}: {problems}") from None
    return Profile(
        **{name: SECTIONS[name](**getattr(checked, name).model_dump()) for name in SECTIONS}
    )


def _explain(model: type[BaseModel], err: ErrorDetails) -> str:
    """One validation error in the words of the file: section, key, and the likely key."""
    loc = [str(p) for p in err["loc"]]
    if err["type"] == "extra_forbidden":
        if len(loc) == 1:
            return f"unknown section [{loc[0]}]{_did_you_mean(loc[0], model.model_fields, '[]')}"
        section = model.model_fields.get(loc[0])
        annotation: Any = section.annotation if section else None
        known = annotation.model_fields if annotation else {}
        return f"unknown key `{loc[-1]}` in [{loc[0]}]{_did_you_mean(loc[-1], known, '``')}"
    where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else loc[0] if loc else "profile"
    return f"{where}: {err['msg']}"


def _did_you_mean(name: str, known: Iterable[str], marks: str) -> str:
    close = get_close_matches(name, list(known), n=1)
    return f"; did you mean {marks[0]}{close[0]}{marks[1]}?" if close else ""
