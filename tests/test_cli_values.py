"""Command-line values are converted as typer converts them, without pydantic (issue 11):
every parameter of every command, for usual and unusual values, gives the same value of the
same type or the same refusal as typer's own conversion; and a command on a plain profile
imports no pydantic at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._click import Context
from typer._coercion import build_runtime_param

from breadcrumbs.cli import app
from breadcrumbs.cli_values import _kind, _Quick

VALUES: list[Any] = [
    None,
    True,
    False,
    "",
    "x",
    "outbox",
    "OUTBOX",
    "drafts",
    "send",
    "Send ",
    "nope",
    "0",
    "5",
    "007",
    "-1",
    "+5",
    " 5",
    "5_000",
    "5.0",
    "1e3",
    "9" * 18,
    "9" * 30,
    "٣",  # an Arabic-Indic digit: str.isdigit() says yes
    "2026-11",
    "some/folder/",
    "~/ws",
    "/",
    "/etc/passwd",
    "a\x00b",
    ("a", "b/"),
    ("a",),
    (),
    ["c"],
    ("a", 5),
    5,
    Path("p"),
]


def _params() -> list[tuple[str, Any, Context]]:
    group = typer.main.get_command(app)
    ctx = Context(group)
    found = [("(group)", p, ctx) for p in group.get_params(ctx)]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = Context(command, parent=ctx)
        found += [(name, p, sub) for p in command.get_params(sub)]
    return found


def _outcome(convert: Any, value: Any, param: Any, ctx: Any) -> tuple[str, str]:
    try:
        result = convert(value, param=param, ctx=ctx)
    except Exception as exc:  # the refusal itself is what must match
        return type(exc).__name__, str(exc)
    return type(result).__name__, repr(result)


PARAMS = _params()


def test_every_parameter_is_of_a_kind_converted_quickly() -> None:
    """The commands' parameters are all of the plain kinds (else pydantic comes back)."""
    assert [f"{name}:{p.name}" for name, p, _ in PARAMS if _kind(p) is None] == []


@pytest.mark.parametrize(("command", "param", "ctx"), PARAMS, ids=lambda v: str(v)[:40])
def test_a_value_converts_as_typer_converts_it(command: str, param: Any, ctx: Any) -> None:
    """Each value: the same result of the same type, or the same error and message."""
    kind = _kind(param)
    assert kind is not None
    quick = _Quick(param, kind)
    own = build_runtime_param(param.type_descriptor)
    for value in VALUES:
        assert _outcome(quick.coerce, value, param, ctx) == _outcome(
            own.coerce, value, param, ctx
        ), (command, param.name, value)


def test_a_follow_up_imports_neither_pydantic_nor_duckdbs_python_layer(tmp_path: Path) -> None:
    """The README's path never loads pydantic (not for its options, not for the profile),
    nor the duckdb package's Python layer over its engine (store/database.py)."""
    (tmp_path / "profile.toml").write_text(
        '[me]\nname = "Sam Seeker"\nemail = "sam@example.com"\n', encoding="utf-8"
    )
    code = (
        "import sys\n"
        "from breadcrumbs.cli import main\n"
        f"sys.argv = ['breadcrumbs', 'follow-up', '-w', {str(tmp_path)!r}, '--no-sync',"
        " '--no-prefect', '--mode', 'outbox', '-n', '5']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted({'pydantic', 'duckdb'} & set(sys.modules)) or 'NONE')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "Nothing is due right now." in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "NONE"
