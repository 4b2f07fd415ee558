"""`krakectl`: the root command, its global options, and the top-level verbs
(`apply`, `create`, `delete`, `get`) beside the command tree of every API group.

Errors end the command with one line on stderr and exit code 1 (usage errors: 2);
a traceback only with `--debug`.
"""

from __future__ import annotations

from typing import Any

import click
import grpc

from krake_api.registry import Kind
from krake_cli import completion, config_commands, kinds, manifests, reads, tree, version, writes
from krake_cli import options as opt
from krake_cli.changes import delete as delete_named
from krake_cli.errors import Failure, explain
from krake_cli.session import Session, of, pass_session

PASSED = (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt)


class Root(tree.Aliased):
    """The root group: turns every unexpected error into one line, unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PASSED:
            raise
        except Exception as err:
            if ctx.params.get("debug"):
                raise
            if isinstance(err, grpc.RpcError):
                raise Failure(explain(err, address=of(ctx).settings.api)) from None
            raise Failure(f"{type(err).__name__}: {err} (--debug shows where)") from None


@click.group(cls=Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    envvar="KRAKECONFIG",
    help="Configuration file (default: $XDG_CONFIG_HOME/krake/config.yaml).",
)
@click.option("--context", help="The configuration's context to use.")
@click.option("--api", help="HOST:PORT of the API (default: the context's, else 127.0.0.1:50051).")
@click.option("--ca", help="CA certificate file: use TLS.")
@click.option("--cert", help="Client certificate file (mutual TLS).")
@click.option("--key", help="Client key file (mutual TLS).")
@click.option("--token", help="Bearer token.")
@click.option("--token-file", help="File holding the bearer token.")
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds a call may take.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, /, **params: Any) -> None:
    """krakectl: manage Krake's applications, clusters, clouds and metrics."""
    ctx.obj = Session(ctx.params)


@cli.command("get")
@click.argument("kind_word", metavar="KIND", shell_complete=completion.kind_words)
@click.argument("names", nargs=-1, shell_complete=completion.names())
@opt.namespace
@opt.all_namespaces
@opt.selectors
@opt.output()
@opt.watch
@pass_session
def get(
    session: Session,
    kind_word: str,
    names: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    selector: str,
    field_selector: str,
    output: str,
    watch: bool,
) -> None:
    """Show objects of KIND: the NAMEs given, else every one selected."""
    kind = kinds.lookup(kind_word)
    where = reads.query(
        session,
        kind,
        namespace,
        all_namespaces and not names,
        selector=selector,
        field_selector=field_selector,
    )
    reads.show(session, kind, names, where, output, watch)


@cli.command("delete")
@click.argument("kind_word", metavar="[KIND", required=False, shell_complete=completion.kind_words)
@click.argument("names", nargs=-1, metavar="NAME...]", shell_complete=completion.names())
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    type=click.Path(allow_dash=True),
    help="Delete the objects in this file, directory or - (repeatable).",
)
@click.option("-R", "--recursive", is_flag=True, help="Read directories recursively.")
@click.option(
    "--propagation",
    type=click.Choice(list(writes.PROPAGATIONS)),
    default="background",
    show_default=True,
)
@click.option("--ignore-not-found", is_flag=True, help="A missing object is not an error.")
@opt.namespace
@opt.wait
@opt.dry_run
@pass_session
def delete(
    session: Session,
    kind_word: str | None,
    names: tuple[str, ...],
    paths: tuple[str, ...],
    recursive: bool,
    propagation: str,
    ignore_not_found: bool,
    namespace: str | None,
    wait: str | None,
    timeout: float,
    dry_run: str,
) -> None:
    """Delete objects: `delete -f FILE`, or `delete KIND NAME...`."""
    how = writes.Write.of(None, wait, timeout, dry_run)
    if paths:
        if kind_word:
            raise click.UsageError("give -f FILE or KIND NAME..., not both")
        manifests.delete_files(
            session, paths, recursive, namespace, how, propagation, ignore_not_found
        )
        return
    if not kind_word or not names:
        raise click.UsageError("give -f FILE or KIND NAME...")
    kind: Kind = kinds.lookup(kind_word)
    where = session.namespace(namespace) if kind.namespaced else ""
    delete_named(session, kind, where, names, how, propagation, ignore_not_found)


for command in (
    manifests.apply,
    manifests.create,
    version.version,
    config_commands.group,
    completion.completion,
):
    cli.add_command(command)
for group, aliases in tree.api_groups():
    cli.add_aliased(group, aliases)


def main() -> None:
    cli(prog_name="krakectl", auto_envvar_prefix=None)
