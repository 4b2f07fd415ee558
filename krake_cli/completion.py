"""Shell completion (click's, for bash, zsh and fish): kind words, and resource names
read from the API. A completion that cannot reach the API within `DEADLINE`
offers nothing rather than an error. `krakectl completion SHELL` prints the script
to source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

import click
from click.shell_completion import CompletionItem, get_completion_class

from krake_api.registry import Kind
from krake_cli import kinds, session
from krake_controllers.runtime.client import Client

DEADLINE: Final = 2.0
Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def names(kind: Kind | None = None) -> Completer:
    """Names of `kind`'s objects (or, with None, of the kind the KIND argument names)
    in the namespace given on the command line, starting with what was typed."""

    def complete(
        ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        chosen = kind or kinds.by_word().get(str(ctx.params.get("kind_word") or "").lower())
        if chosen is None:
            return []
        found = fetch(ctx, chosen)
        return [CompletionItem(name) for name in found if name.startswith(incomplete)]

    return complete


def fetch(ctx: click.Context, kind: Kind) -> list[str]:
    current = session.of(ctx)
    namespace = current.namespace(ctx.params.get("namespace")) if kind.namespaced else ""

    async def work(client: Client) -> list[str]:
        page = await client.kind(kind).list(namespace)
        return sorted(obj.metadata.name for obj in page.items)

    async def bounded() -> list[str]:
        return await asyncio.wait_for(current.call(work), DEADLINE)

    try:
        return asyncio.run(bounded())
    except Exception:  # completion must never fail the shell
        return []


def kind_words(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Every kind's command name and aliases starting with what was typed."""
    return [
        CompletionItem(word)
        for word in sorted(kinds.by_word())
        if word.startswith(incomplete.lower())
    ]


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash: source <(krakectl completion bash)
    zsh:  source <(krakectl completion zsh)
    fish: krakectl completion fish | source
    """
    root: Any = ctx.find_root().command
    script = get_completion_class(shell)
    assert script is not None  # the Choice admits only shells click supports
    click.echo(script(root, {}, "krakectl", "_KRAKECTL_COMPLETE").source())
