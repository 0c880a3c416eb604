"""`--help` in a person's words: no type placeholders, arguments named as in the usage line.

Typer prints each parameter's Python type (`--dry-run <bool>`, `KEY <str>`, `{key}` for a
required argument). Its public options hide neither an argument's type nor that of `--help`
itself, so the group tidies every command's parameters once, when the command is looked up,
before any help is drawn: a flag shows no value, an option shows its value's name (or its
choices, which the library keeps: an Enum's values), an argument shows its name in capitals.
Commands added later get the same treatment without doing anything.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

from breadcrumbs.cli_values import convert_quickly


class Commands(TyperGroup):
    """The `breadcrumbs` group (and its sub-groups): tidies the help of what it hands out, and
    converts plain values without pydantic (cli_values.py)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            tidy(command, ctx)
            convert_quickly(command, ctx)
        return command

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        convert_quickly(self, ctx)  # the options taken before the command (`-w DIR sync`)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        tidy(self, ctx)
        super().format_help(ctx, formatter)


def tidy(command: Any, ctx: Any) -> None:
    for param in [*command.params, command.get_help_option(ctx)]:
        if isinstance(param, TyperArgument):
            _tidy_argument(param)
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else _choices(param) or (param.name or "").upper()


def _tidy_argument(param: TyperArgument) -> None:
    label = (param.metavar or param.name or "").upper()
    param.metavar = label
    shown = label if param.required else f"[{label}]"
    # Instance attributes in place of the methods that add `<str>` and `{key}`.
    setattr(param, "display_type_rich", lambda ctx: None)  # noqa: B010
    setattr(param, "_usage_display_name", lambda: shown)  # noqa: B010


def _choices(param: TyperOption) -> str:
    """An Enum option's values, as the library knows them: `outbox|drafts|send`."""
    choices = getattr(getattr(param, "type_descriptor", None), "choices", None) or ()
    return "|".join(str(getattr(c, "value", c)) for c in choices)
