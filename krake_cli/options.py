"""The options every verb shares, declared once: namespace, selectors, output,
--wait/--timeout, --dry-run, labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import click

from krake_cli.output import FORMATS

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_WAIT: Final = "<ready>"
"""The --wait value when no state is given: the kind's ready state (or, for delete,
the object being gone)."""


def compose(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """One decorator applying `decorators` as if stacked in this order."""

    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


namespace = click.option(
    "-n", "--namespace", default=None, help="Namespace (default: the context's, else default)."
)
all_namespaces = click.option(
    "-A", "--all-namespaces", is_flag=True, help="Every namespace (namespaced kinds)."
)
selectors = compose(
    click.option("-l", "--selector", default="", help="Label selector, e.g. 'env=prod,tier!=db'."),
    click.option("--field-selector", default="", help="e.g. 'status.state=RUNNING'."),
)
watch = click.option("-w", "--watch", is_flag=True, help="After printing, print every change.")
wait = compose(
    click.option(
        "--wait",
        is_flag=False,
        flag_value=DEFAULT_WAIT,
        default=None,
        metavar="[=STATE]",
        help="Block until the object reaches STATE (default: the kind's ready state; "
        "for delete: gone).",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=300.0,
        show_default=True,
        help="Seconds --wait waits before failing.",
    ),
)
dry_run = click.option(
    "--dry-run",
    type=click.Choice(["none", "client"]),
    is_flag=False,
    flag_value="client",
    default="none",
    help="`client`: print what would be sent, send nothing.",
)
labels = click.option(
    "-l", "--label", "labels", multiple=True, metavar="KEY=VALUE", help="A label (repeatable)."
)


def output(default: str | None = "table", formats: Iterable[str] = FORMATS) -> Callable[[F], F]:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(list(formats)),
        default=default,
        show_default=True,
        help="Output format.",
    )


def pairs(values: Iterable[str], what: str = "label") -> dict[str, str]:
    """`KEY=VALUE` words as a dict; a usage error names a word without `=`."""
    found: dict[str, str] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=what)
        found[key] = item
    return found
