"""`kube cluster register`: a Cluster from one context of a kubeconfig file.

The Cluster's kubeconfig holds exactly the chosen context (default: the file's
current context) with its cluster and user. Certificates and keys the kubeconfig
names by file path are inlined as `*-data` (base64), since the API and the
controllers run elsewhere; relative paths are read from the kubeconfig's folder.
"""

from __future__ import annotations

import base64
import copy
import pathlib
from typing import Any, Final

import click
import yaml

from krake_api.registry import Kind
from krake_cli import options as opt
from krake_cli import writes
from krake_cli.changes import submit, write_options
from krake_cli.errors import Failure
from krake_cli.session import Session, pass_session
from krake_cli.special.metrics import metric_options, metric_refs

FILE_FIELDS: Final = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key"),
}


def entry(config: dict[str, Any], section: str, name: str, path: str) -> dict[str, Any]:
    """The entry `name` of the kubeconfig's `section` (clusters, users, contexts)."""
    for item in config.get(section) or ():
        if isinstance(item, dict) and item.get("name") == name:
            return copy.deepcopy(item)
    known = ", ".join(str(i.get("name")) for i in config.get(section) or () if isinstance(i, dict))
    raise Failure(f"{path}: no {section[:-1]} {name!r} (has: {known or 'none'})")


def inline_files(item: dict[str, Any], section: str, base: pathlib.Path) -> None:
    body = item.get(section[:-1]) or {}
    for key in FILE_FIELDS[section]:
        if key in body:
            file = base / pathlib.Path(str(body.pop(key))).expanduser()
            try:
                body[f"{key}-data"] = base64.b64encode(file.read_bytes()).decode()
            except OSError as err:
                raise Failure(f"cannot read {key} {file}: {err.strerror}") from None


def one_context(path: str, context: str | None) -> tuple[str, dict[str, Any]]:
    """The context's name and a kubeconfig holding only it, its cluster and user."""
    try:
        config = yaml.safe_load(pathlib.Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise Failure(f"{path}: not a readable kubeconfig: {' '.join(str(err).split())}") from None
    if not isinstance(config, dict):
        raise Failure(f"{path}: not a kubeconfig")
    name = context or config.get("current-context")
    if not name:
        raise Failure(f"{path}: has no current-context; choose one with --context")
    chosen = entry(config, "contexts", str(name), path)
    refs = chosen.get("context") or {}
    base = pathlib.Path(path).parent
    parts: dict[str, Any] = {"contexts": [chosen]}
    for section, ref in (("clusters", "cluster"), ("users", "user")):
        item = entry(config, section, str(refs.get(ref)), path)
        inline_files(item, section, base)
        parts[section] = [item]
    single = {"apiVersion": "v1", "kind": "Config", "current-context": name, **parts}
    return str(name), single


def register_command(kind: Kind) -> click.Command:
    @click.command("register")
    @click.argument("name", required=False)
    @click.option(
        "-k",
        "--kubeconfig",
        required=True,
        type=click.Path(exists=True, dir_okay=False),
        help="The kubeconfig file.",
    )
    @click.option("--context", "context", help="Its context to use (default: its current one).")
    @click.option(
        "-R",
        "--custom-resource",
        "custom_resources",
        multiple=True,
        metavar="CRD",
        help="A custom resource it serves (repeatable).",
    )
    @metric_options
    @opt.labels
    @write_options
    @pass_session
    def command(
        session: Session,
        name: str | None,
        kubeconfig: str,
        context: str | None,
        custom_resources: tuple[str, ...],
        metrics: tuple[tuple[str, float], ...],
        namespaced_metrics: tuple[tuple[str, float], ...],
        labels: tuple[str, ...],
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
    ) -> None:
        """Register a Kubernetes cluster (NAME: default the context's name)."""
        chosen, config = one_context(kubeconfig, context)
        obj: Any = kind.message(api=kind.group, kind=kind.name)
        obj.metadata.name = name or chosen
        obj.metadata.namespace = session.namespace(namespace)
        obj.metadata.labels.update(opt.pairs(labels))
        obj.spec.kubeconfig.update(config)
        obj.spec.custom_resources.extend(custom_resources)
        obj.spec.metrics.extend(metric_refs(metrics, namespaced_metrics))
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command
