"""`infra cloud register --type openstack` and `infra provider register --type im`
(also for the global kinds).

Secrets never come from flags, which end up in shell histories and process
lists: the OpenStack password is `$OS_PASSWORD` (as an openrc file sets it) or is
asked for without echo; so are an application credential's secret and the IM
password. The other OpenStack settings also read the usual `OS_*` variables.
"""

from __future__ import annotations

import os
from typing import Any

import click

from krake_api.registry import Kind
from krake_cli import options as opt
from krake_cli import writes
from krake_cli.changes import submit, write_options
from krake_cli.session import Session, pass_session
from krake_cli.special.metrics import metric_options, metric_refs, new


def secret(variable: str, prompt: str) -> str:
    """The secret in `$variable`, else typed at a prompt that does not echo it."""
    value = os.environ.get(variable)
    if value:
        return value
    return str(click.prompt(f"{prompt} (or set ${variable})", hide_input=True))


def openstack_auth(auth: Any, settings: dict[str, Any]) -> None:
    if settings["application_credential_id"]:
        credential = auth.application_credential
        credential.id = settings["application_credential_id"]
        credential.secret = secret(
            "OS_APPLICATION_CREDENTIAL_SECRET", "Application credential secret"
        )
        return
    needed = [flag for flag in ("username", "project") if not settings[flag]]
    if needed:
        flags = ", ".join(f"--{flag}" for flag in needed)
        raise click.UsageError(
            f"password authentication needs {flags} (or an application credential)"
        )
    password = auth.password
    password.user.username = settings["username"]
    password.user.domain_name = settings["user_domain_name"]
    password.project.name = settings["project"]
    password.project.domain_id = settings["domain_id"]
    password.user.password = secret("OS_PASSWORD", "OpenStack password")


def cloud_command(kind: Kind) -> click.Command:
    @click.command("register")
    @click.argument("name")
    @click.option(
        "--type", "type_", type=click.Choice(["openstack"]), default="openstack", show_default=True
    )
    @click.option("--url", envvar="OS_AUTH_URL", required=True, help="Keystone URL ($OS_AUTH_URL).")
    @click.option("--username", envvar="OS_USERNAME", help="User ($OS_USERNAME).")
    @click.option(
        "--user-domain-name", envvar="OS_USER_DOMAIN_NAME", default="Default", show_default=True
    )
    @click.option("--project", envvar="OS_PROJECT_NAME", help="Project ($OS_PROJECT_NAME).")
    @click.option(
        "--domain-id",
        envvar="OS_PROJECT_DOMAIN_ID",
        default="default",
        show_default=True,
        help="The project's domain.",
    )
    @click.option(
        "--application-credential-id",
        envvar="OS_APPLICATION_CREDENTIAL_ID",
        help="Use an application credential instead of a password.",
    )
    @click.option("--infra-provider", help="An InfrastructureProvider of the namespace.")
    @click.option("--global-infra-provider", help="A GlobalInfrastructureProvider.")
    @metric_options
    @opt.labels
    @write_options
    @pass_session
    def command(
        session: Session,
        /,
        name: str,
        type_: str,
        url: str,
        metrics: tuple[tuple[str, float], ...],
        namespaced_metrics: tuple[tuple[str, float], ...],
        labels: tuple[str, ...],
        infra_provider: str | None,
        global_infra_provider: str | None,
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
        **settings: Any,
    ) -> None:
        """Register an OpenStack cloud that clusters can be created on."""
        if bool(infra_provider) == bool(global_infra_provider):
            raise click.UsageError("give one of --infra-provider and --global-infra-provider")
        obj = new(kind, session, name, namespace, labels)
        cloud = getattr(obj.spec, type_)
        cloud.url = url
        cloud.infrastructure_provider.name = infra_provider or global_infra_provider
        cloud.infrastructure_provider.namespaced = bool(infra_provider)
        cloud.metrics.extend(metric_refs(metrics, namespaced_metrics))
        openstack_auth(cloud.auth, settings)
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command


def provider_command(kind: Kind) -> click.Command:
    @click.command("register")
    @click.argument("name")
    @click.option("--type", "type_", type=click.Choice(["im", "openstack_magnum"]), required=True)
    @click.option("--url", help="im: the Infrastructure Manager's URL.")
    @click.option("--username", help="im: user (the password is $IM_PASSWORD or asked for).")
    @click.option(
        "--token", envvar="IM_TOKEN", help="im: a token instead of user and password ($IM_TOKEN)."
    )
    @opt.labels
    @write_options
    @pass_session
    def command(
        session: Session,
        /,
        name: str,
        type_: str,
        url: str | None,
        username: str | None,
        token: str | None,
        labels: tuple[str, ...],
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
    ) -> None:
        """Register an infrastructure provider that creates clusters on clouds."""
        obj = new(kind, session, name, namespace, labels)
        chosen = getattr(obj.spec, type_)
        chosen.SetInParent()
        if type_ == "im":
            if not url or not (token or username):
                raise click.UsageError("--type im needs --url and --token or --username")
            chosen.url = url
            if token:
                chosen.token = token
            else:
                chosen.username = username
                chosen.password = secret("IM_PASSWORD", "IM password")
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command
