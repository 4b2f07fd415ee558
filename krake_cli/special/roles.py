"""`core role create --rule ...` and `core rolebinding create --user ... --role ...`.

A rule is written `API:RESOURCES:VERBS[:NAMESPACES]`, each part a comma-separated
list (API a single group), `*` matching anything: `kubernetes:applications,clusters:get,list`.
"""

from __future__ import annotations

from typing import Any

import click

from krake_api.registry import Kind
from krake_cli import options as opt
from krake_cli import writes
from krake_cli.changes import submit, write_options
from krake_cli.session import Session, pass_session
from krake_cli.special.metrics import new


def rule(text: str) -> dict[str, Any]:
    """The Role.Rule fields of one `--rule` value; a usage error when malformed."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or not all(parts):
        raise click.BadParameter(
            f"{text!r} is not API:RESOURCES:VERBS[:NAMESPACES]", param_hint="--rule"
        )
    found: dict[str, Any] = {"api": parts[0]}
    for field, part in zip(("resources", "verbs", "namespaces"), parts[1:], strict=False):
        found[field] = [item.strip() for item in part.split(",") if item.strip()]
    return found


def role_command(kind: Kind) -> click.Command:
    @click.command("create")
    @click.argument("name")
    @click.option(
        "--rule",
        "rules",
        multiple=True,
        required=True,
        metavar="API:RESOURCES:VERBS[:NAMESPACES]",
        help="A permission (repeatable).",
    )
    @opt.labels
    @write_options
    @pass_session
    def command(
        session: Session,
        name: str,
        rules: tuple[str, ...],
        labels: tuple[str, ...],
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
    ) -> None:
        """Create a role: the verbs it allows on which resources and namespaces."""
        obj = new(kind, session, name, namespace, labels)
        for text in rules:
            obj.spec.rules.add(**rule(text))
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command


def binding_command(kind: Kind) -> click.Command:
    @click.command("create")
    @click.argument("name")
    @click.option("--user", "users", multiple=True, required=True, help="A user (repeatable).")
    @click.option(
        "--role", "roles", multiple=True, required=True, help="A role's name (repeatable)."
    )
    @opt.labels
    @write_options
    @pass_session
    def command(
        session: Session,
        name: str,
        users: tuple[str, ...],
        roles: tuple[str, ...],
        labels: tuple[str, ...],
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
    ) -> None:
        """Grant roles to users."""
        obj = new(kind, session, name, namespace, labels)
        obj.spec.users.extend(users)
        obj.spec.roles.extend(roles)
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command
