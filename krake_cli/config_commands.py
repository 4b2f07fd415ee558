"""`krakectl config`: view the configuration file and manage its contexts."""

from __future__ import annotations

from typing import Any

import click

from krake_cli import config, output
from krake_cli.session import Session, pass_session

SETTINGS = ("api", "namespace", "ca", "cert", "key", "token", "token_file")


def opened(session: Session) -> config.Config:
    return config.load(config.location(session.params.get("config")))


@click.group("config")
def group() -> None:
    """The configuration file (`config view` prints where it is)."""


@group.command("view")
@click.option("--raw", is_flag=True, help="Show tokens instead of REDACTED.")
@pass_session
def view(session: Session, /, raw: bool) -> None:
    """Print the configuration (tokens hidden)."""
    current = opened(session)
    data: Any = current.to_yaml()
    for context in data["contexts"].values():
        if "token" in context and not raw:
            context["token"] = "REDACTED"
    click.echo(f"# {current.path}")
    click.echo(output.dump_yaml(data), nl=False)


@group.command("get-contexts")
@pass_session
def get_contexts(session: Session) -> None:
    """List the contexts; `*` marks the current one."""
    current = opened(session)
    rows = [["CURRENT", "NAME", "API", "NAMESPACE"]]
    for name, context in sorted(current.contexts.items()):
        mark = "*" if name == current.current else ""
        rows.append(
            [
                mark,
                name,
                context.api or config.DEFAULT_API,
                context.namespace or config.DEFAULT_NAMESPACE,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@group.command("current-context")
@pass_session
def current_context(session: Session) -> None:
    """Print the current context's name."""
    current = opened(session)
    if not current.current:
        raise click.ClickException(f"no current context in {current.path}")
    click.echo(current.current)


@group.command("use-context")
@click.argument("name")
@pass_session
def use_context(session: Session, /, name: str) -> None:
    """Make NAME the current context."""
    current = opened(session)
    current.context(name)  # fails, naming the known contexts, if there is none
    current.current = name
    current.save()
    click.echo(f'Switched to context "{name}".')


@group.command("set-context")
@click.argument("name")
@click.option("--api", help="HOST:PORT of the API's gRPC.")
@click.option("--namespace", help="Default namespace.")
@click.option("--ca", help="CA certificate file (TLS).")
@click.option("--cert", help="Client certificate file (mutual TLS).")
@click.option("--key", help="Client key file (mutual TLS).")
@click.option("--token", help="Bearer token.")
@click.option("--token-file", help="File holding the bearer token.")
@click.option("--current", "make_current", is_flag=True, help="Also make it the current context.")
@pass_session
def set_context(session: Session, /, name: str, make_current: bool, **settings: str | None) -> None:
    """Create the context NAME or change the settings given."""
    current = opened(session)
    context = current.contexts.setdefault(name, config.Context())
    for field in SETTINGS:
        if settings.get(field) is not None:
            setattr(context, field, settings[field])
    if make_current or not current.current:
        current.current = name
    current.save()
    click.echo(f'Context "{name}" set in {current.path}.')


@group.command("delete-context")
@click.argument("name")
@pass_session
def delete_context(session: Session, /, name: str) -> None:
    """Remove the context NAME."""
    current = opened(session)
    current.context(name)
    del current.contexts[name]
    if current.current == name:
        current.current = ""
    current.save()
    click.echo(f'Deleted context "{name}".')
