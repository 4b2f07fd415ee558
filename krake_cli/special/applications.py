"""`kube app create|update`: an Application from a Kubernetes manifest and flags, as
the first Krake's `rok kube app` wrote it.

The manifest file (and the observer schema file) may hold several YAML documents;
each becomes one item of `spec.manifest` (`spec.observer_schema`). Constraints are
strings the scheduler parses: `-L 'location=DE'`, `-M 'load<5'`, `-R 'crd.example.com'`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from krake_api.registry import Kind
from krake_cli import completion, documents, writes
from krake_cli import options as opt
from krake_cli.changes import change, submit, write_options
from krake_cli.errors import Failure
from krake_cli.session import Session, pass_session

CONSTRAINTS = {
    # option dest -> field of spec.constraints.cluster
    "label_constraints": "labels",
    "metric_constraints": "metrics",
    "resource_constraints": "custom_resources",
}
NUMBERS = ("backoff", "backoff_delay", "backoff_limit", "shutdown_grace_time")


def kubernetes_objects(path: str) -> list[dict[str, Any]]:
    """The documents of a manifest file, each a Kubernetes object (a mapping)."""
    found = documents.read([path])
    if not found:
        raise Failure(f"{path}: holds no Kubernetes objects")
    for doc in found:
        if not isinstance(doc.data, dict):
            raise Failure(f"{doc.source}: a Kubernetes object must be a mapping")
    return [doc.data for doc in found]


def application_options(command: Any) -> Any:
    """The flags create and update share."""
    return opt.compose(
        click.option(
            "-O",
            "--observer-schema",
            type=click.Path(exists=True, dir_okay=False, allow_dash=True),
            help="Observer schema file.",
        ),
        click.option(
            "-L",
            "--cluster-label-constraint",
            "label_constraints",
            multiple=True,
            metavar="CONSTRAINT",
            help="e.g. 'location=DE' (repeatable).",
        ),
        click.option(
            "-M",
            "--cluster-metric-constraint",
            "metric_constraints",
            multiple=True,
            metavar="CONSTRAINT",
            help="e.g. 'load<5' (repeatable).",
        ),
        click.option(
            "-R",
            "--cluster-resource-constraint",
            "resource_constraints",
            multiple=True,
            metavar="CRD",
            help="A custom resource the cluster must serve (repeatable).",
        ),
        click.option("--backoff", type=int, help="Retries' backoff factor."),
        click.option("--backoff-delay", type=int, help="Seconds between retries."),
        click.option("--backoff-limit", type=int, help="Retries before giving up (-1: forever)."),
        click.option("--shutdown-grace-time", type=int, help="Seconds the shutdown hook may take."),
        opt.labels,
        write_options,
    )(command)


def files(manifest: str | None, flags: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The manifest and observer schema files' objects, read once, by spec field."""
    paths = {"manifest": manifest, "observer_schema": flags.get("observer_schema")}
    return {field: kubernetes_objects(path) for field, path in paths.items() if path}


def fill(spec: Any, flags: dict[str, Any], objects: dict[str, list[dict[str, Any]]]) -> None:
    """Set the spec fields the flags (create's and update's common ones) give."""
    for field, items in objects.items():
        del getattr(spec, field)[:]
        for item in items:
            getattr(spec, field).add().update(item)
    cluster = spec.constraints.cluster
    for dest, field in CONSTRAINTS.items():
        values: Sequence[str] = flags.get(dest) or ()
        getattr(cluster, field).extend(v for v in values if v not in getattr(cluster, field))
    for number in NUMBERS:
        if flags.get(number) is not None:
            setattr(spec, number, flags[number])


def create_command(kind: Kind) -> click.Command:
    @click.command("create")
    @click.argument("name")
    @click.option(
        "-f",
        "--file",
        "manifest",
        required=True,
        type=click.Path(exists=True, dir_okay=False, allow_dash=True),
        help="Kubernetes manifest file.",
    )
    @click.option("--disable-migration", is_flag=True, help="Never move it to another cluster.")
    @click.option("--hook-complete", is_flag=True, help="Give it a `complete` hook.")
    @click.option("--hook-shutdown", is_flag=True, help="Give it a `shutdown` hook.")
    @click.option(
        "--auto-cluster-create", is_flag=True, help="Create a cluster for it when none fits."
    )
    @application_options
    @pass_session
    def command(
        session: Session,
        /,
        name: str,
        manifest: str,
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
        **flags: Any,
    ) -> None:
        """Create an Application from a Kubernetes manifest."""
        obj: Any = kind.message(api=kind.group, kind=kind.name)
        obj.metadata.name = name
        obj.metadata.namespace = session.namespace(namespace)
        obj.metadata.labels.update(opt.pairs(flags["labels"]))
        fill(obj.spec, flags, files(manifest, flags))
        if flags["disable_migration"]:
            obj.spec.constraints.migration = False
        for hook in ("complete", "shutdown"):
            if flags[f"hook_{hook}"]:
                setattr(obj.spec.hooks, hook, True)
        obj.spec.auto_cluster_create = flags["auto_cluster_create"]
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command


def update_command(kind: Kind) -> click.Command:
    @click.command("update")
    @click.argument("name", shell_complete=completion.names(kind))
    @click.option(
        "-f",
        "--file",
        "manifest",
        type=click.Path(exists=True, dir_okay=False, allow_dash=True),
        help="New Kubernetes manifest file.",
    )
    @click.option(
        "--migration/--disable-migration",
        default=None,
        help="Allow (or forbid) moving it to another cluster.",
    )
    @click.option(
        "--hook-complete/--no-hook-complete",
        default=None,
        help="Add or remove the `complete` hook.",
    )
    @click.option(
        "--hook-shutdown/--no-hook-shutdown",
        default=None,
        help="Add or remove the `shutdown` hook.",
    )
    @click.option(
        "--remove-existing-label-constraints",
        is_flag=True,
        help="Drop the label constraints first.",
    )
    @click.option(
        "--remove-existing-metric-constraints",
        is_flag=True,
        help="Drop the metric constraints first.",
    )
    @click.option(
        "--remove-existing-resource-constraints",
        is_flag=True,
        help="Drop the custom resource constraints first.",
    )
    @application_options
    @pass_session
    def command(
        session: Session,
        /,
        name: str,
        manifest: str | None,
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
        **flags: Any,
    ) -> None:
        """Change an Application: manifest, constraints, hooks, backoff, labels."""
        objects = files(manifest, flags)

        def edit(obj: Any) -> Any:
            cluster = obj.spec.constraints.cluster
            for dest, field in CONSTRAINTS.items():
                if flags[f"remove_existing_{dest}"]:
                    cluster.ClearField(field)
            fill(obj.spec, flags, objects)
            if flags["migration"] is not None:
                obj.spec.constraints.migration = flags["migration"]
            for hook in ("complete", "shutdown"):
                if flags[f"hook_{hook}"] is not None:
                    setattr(obj.spec.hooks, hook, flags[f"hook_{hook}"])
            obj.metadata.labels.update(opt.pairs(flags["labels"]))
            return obj

        how = writes.Write.of(output, wait, timeout, dry_run)
        change(session, kind, session.namespace(namespace), name, edit, how)

    return command
