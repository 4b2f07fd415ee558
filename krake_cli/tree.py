"""The command tree built from the registry: `krakectl <group> <kind> <verb>`.

Each API group of the registry is a command group, each of its kinds a group of
the generic verbs (krake_cli/reads.py, krake_cli/changes.py) plus the kind's
handwritten commands (krake_cli/special/). Groups answer to aliases too
(`kube app` = `kubernetes application`), case-insensitively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import click

from krake_api.registry import KINDS, Kind
from krake_cli import changes, kinds, reads, special

VERBS: Final[tuple[Callable[[Kind], click.Command], ...]] = (
    reads.list_command,
    reads.get_command,
    reads.watch_command,
    changes.create_command,
    changes.update_command,
    changes.delete_command,
)


class Aliased(click.Group):
    """A group whose commands also answer to aliases (listed in its help)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases: dict[str, str] = {}

    def add_aliased(self, command: click.Command, aliases: Iterable[str]) -> None:
        assert command.name is not None
        self.add_command(command)
        for alias in aliases:
            self.aliases[alias.lower()] = command.name

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = cmd_name.lower()
        return super().get_command(ctx, self.aliases.get(name, name))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands[name]
            others = sorted(a for a, target in self.aliases.items() if target == name)
            label = f"{name} ({', '.join(others)})" if others else name
            rows.append((label, command.get_short_help_str(limit=60)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def kind_group(kind: Kind) -> click.Group:
    scope = "namespaced" if kind.namespaced else "global"
    group = Aliased(kinds.command_name(kind), help=f"{kind.name} objects ({scope}).")
    for factory in (*VERBS, *special.COMMANDS.get(kind.name, ())):
        group.add_command(factory(kind))  # a handwritten `create` replaces the generic one
    return group


def api_groups() -> list[tuple[click.Group, tuple[str, ...]]]:
    """One group per API group, holding its kinds, and the group's aliases."""
    made: dict[str, Aliased] = {}
    for kind in KINDS.values():
        if kind.group not in made:
            made[kind.group] = Aliased(kind.group, help=f"The {kind.group} API group's kinds.")
        made[kind.group].add_aliased(kind_group(kind), kinds.aliases(kind))
    return [(group, kinds.GROUPS.get(name, ())) for name, group in made.items()]
