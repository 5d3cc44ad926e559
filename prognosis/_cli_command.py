"""The command class every prognosis command uses: a readable usage line and flags without a value.

typer 0.29 (with click 8.5) renders a required argument as ``{spec}`` in the usage line and gives
every option, flags included, a type column, so ``--verbose`` showed ``<bool>`` as if it took a
value, and ``--verbose true`` then failed with "unexpected extra argument (true)". This class
shows arguments as their metavar (``SPEC``, or ``[SPEC]`` when optional), blanks the type column
of flags, and answers ``--verbose true`` with what to type instead.

typer 0.29 carries its own copy of click (``typer._click``), so the parameters here are not
instances of the installed ``click`` package's classes: they are recognised by their attributes.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

#: Help option names of every command (click's default is ``--help`` only).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

_BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "on", "off"})


def _flag_names(params: list[Any]) -> set[str]:
    names: set[str] = set()
    for param in params:
        if getattr(param, "is_flag", False):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def _blank_flag_types(params: list[Any]) -> None:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            # typer shows the metavar, when set, instead of the type: "" shows nothing
            param.metavar = ""


class _FlagsWithoutType:
    """Shows a command's or group's flags, ``--help`` included, without a type (mixed in first)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _blank_flag_types(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            _blank_flag_types([option])
        return option


class HelpCommand(_FlagsWithoutType, TyperCommand):
    """A typer command with the usage line and flag display described in the module docstring."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or param.name.upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        flags = _flag_names(self.params)
        for before, word in zip(args, args[1:]):
            if word == "--":
                break
            if before in flags and word.lower() in _BOOLEAN_WORDS:
                raise typer.BadParameter(
                    f"a flag takes no value; write {before} alone to turn it on, or leave it out "
                    f"(not {before} {word})", ctx=ctx, param_hint=f"'{before}'")
        return super().parse_args(ctx, args)


class HelpGroup(_FlagsWithoutType, TyperGroup):
    """The top-level group: its own flags (``--version``) without a type, like :class:`HelpCommand`'s."""
