"""Command-line values converted as typer converts them, without importing pydantic for it.

typer (0.2x) converts every parameter's value through a pydantic TypeAdapter built on first
use, a flag left out included: importing pydantic and building the adapters cost each command
about 0.1 CPU-s, paid twice on the README's path (`sync`, then `follow-up`; issue 11). Our
parameters are of a few plain kinds: a flag, a word, a path or several, a whole number, a
choice of an Enum. For those, a value of the usual shape is converted here exactly as typer's
adapter would (the same typer functions for paths and choices; `Path(word)` is what pydantic
makes of a word; a number of plain digits is `int`); anything else (an unusual value, a
refusal, another kind) is handed to typer's own conversion, built then, so every message
stays typer's.

This leans on typer internals (`_TyperParameter.get_runtime_param`, `type_descriptor`): if a
typer release has none of them, nothing is changed and typer converts as it always does.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

_DIGITS = re.compile(r"0|[1-9][0-9]{0,17}")  # well inside a 64-bit int, no sign, no "_"
_OWN = object()  # "not converted here": typer's own conversion decides


def convert_quickly(command: Any, ctx: Any) -> None:
    """Give each parameter of `command` that is of a plain kind the quick conversion (its
    `--help` too: the option typer builds for it converts its flag like any other)."""
    for param in command.get_params(ctx):
        kind = _kind(param)
        if kind is not None and getattr(param, "_runtime_param", True) is None:
            param.get_runtime_param = _Quick(param, kind).itself


def _kind(param: Any) -> str | None:
    """ "word", "path", "paths", "number" or "choice"; None for anything else."""
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if descriptor is None or info is None or not callable(getattr(param, "get_runtime_param", 0)):
        return None
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return None
    annotation = descriptor.annotation
    if annotation is bool:
        return "flag"
    if annotation is str:
        return "word"
    if annotation is Path and _plain_path(info):
        return "path"
    if get_origin(annotation) is list and get_args(annotation) == (Path,) and _plain_path(info):
        return "paths"
    if annotation is int and info.min is None and info.max is None and not info.clamp:
        return "number"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "choice"
    return None


def _plain_path(info: Any) -> bool:
    """A path option that typer only converts (no check that could refuse it)."""
    return (
        getattr(info, "path_type", None) is None
        and not getattr(info, "resolve_path", False)
        and not getattr(info, "allow_dash", False)
        and not getattr(info, "exists", False)
        and not getattr(info, "writable", False)
    )


class _Quick:
    """Stands in for typer's runtime conversion of one parameter (its `coerce`)."""

    def __init__(self, param: Any, kind: str) -> None:
        self.param = param
        self.kind = kind

    def itself(self) -> _Quick:
        return self

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None  # as typer's RuntimeParam.coerce
        try:
            converted = self._convert(value, ctx)
        except Exception:
            converted = _OWN  # typer's own conversion says why, in its words
        if converted is _OWN:
            from typer._coercion import build_runtime_param

            own = build_runtime_param(param.type_descriptor)
            return own.coerce(value, param=param, ctx=ctx)
        return converted

    def _convert(self, value: Any, ctx: Any) -> Any:
        kind, info = self.kind, self.param.type_descriptor.parameter_info
        if kind == "flag":  # typer itself converts nothing for a flag's True or False
            return value if type(value) is bool else _OWN
        if kind == "word":
            return value if type(value) is str else _OWN
        if kind == "number":
            return int(value) if type(value) is str and _DIGITS.fullmatch(value) else _OWN
        if kind == "choice":
            from typer._param_types import coerce_cli_choice

            choices = list(self.param.type_descriptor.annotation)
            return coerce_cli_choice(
                value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx
            )
        if kind == "path":
            return self._path(value, info, ctx)
        if type(value) not in (list, tuple):  # paths
            return _OWN
        paths = [self._path(item, info, ctx) for item in value]
        return _OWN if any(p is _OWN for p in paths) else paths

    def _path(self, value: Any, info: Any, ctx: Any) -> Any:
        from typer._param_types import coerce_cli_path

        if type(value) is not str:
            return _OWN
        # pydantic's conversion of a word to a Path is Path(word); typer's path function
        # then converts nothing more and checks only what the option asks for.
        return coerce_cli_path(Path(value), info, path_type=Path, param=self.param, ctx=ctx)
