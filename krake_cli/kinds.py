"""What krakectl adds to each kind of the API registry: command names, aliases, table
columns and the state `--wait` waits for. One row per kind, as data.

A new kind needs its proto message and RPCs, one registry row, and a row here
(a test fails until it has one). The command name is the kind's name in lower
case; its lower-case plural and the aliases of the first Krake's `rok` also work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import click

from krake_api.registry import KINDS, Kind
from krake_cli import columns as c
from krake_cli.columns import Column


@dataclass(frozen=True, slots=True)
class View:
    aliases: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()  # between NAME (and NAMESPACE with -A) and AGE
    wide: tuple[Column, ...] = ()  # after AGE with `-o wide`
    ready: str = ""  # the status.state `--wait` waits for; "" = the object exists


MIN_MAX: Final = (
    Column("PROVIDER", c.field("spec.provider.name")),
    Column("METRIC", c.field("spec.provider.metric")),
    Column("MIN", c.optional("spec.min")),
    Column("MAX", c.optional("spec.max")),
)
PROVIDER: Final = (
    Column("TYPE", c.oneof("spec", "type")),
    Column("URL", c.oneof("spec", "type", "url")),
)
CLOUD: Final = (
    Column("TYPE", c.oneof("spec", "type")),
    Column("STATE", c.field("status.state")),
    Column("URL", c.oneof("spec", "type", "url")),
)
CLOUD_WIDE: Final = (
    Column("PROVIDER", c.field("spec.openstack.infrastructure_provider.name")),
    Column("REASON", c.field("status.reason.message")),
    c.LABELS,
)

VIEWS: Final[Mapping[str, View]] = {
    "Role": View((), (Column("RULES", c.count("spec.rules")),)),
    "RoleBinding": View(
        ("rb",),
        (Column("USERS", c.field("spec.users")), Column("ROLES", c.field("spec.roles"))),
    ),
    "Metric": View(("m",), MIN_MAX, (c.LABELS,)),
    "GlobalMetric": View(("gmetric", "gm"), MIN_MAX, (c.LABELS,)),
    "MetricsProvider": View(("mp",), PROVIDER, (c.LABELS,)),
    "GlobalMetricsProvider": View(("gmp",), PROVIDER, (c.LABELS,)),
    "Lease": View(
        (),
        (Column("HOLDER", c.field("spec.holder")), Column("RENEWED", c.age("spec.renewed"))),
    ),
    "Application": View(
        ("app", "apps"),
        (
            c.STATE,
            Column("SCHEDULED TO", c.field("status.scheduled_to")),
            Column("RUNNING ON", c.field("status.running_on")),
        ),
        (
            Column("REASON", c.field("status.reason.message")),
            Column("GENERATION", c.field("metadata.generation")),
            c.LABELS,
        ),
        ready="RUNNING",
    ),
    "Cluster": View(
        ("cl",),
        (c.STATE, Column("NODES", c.count("status.nodes"))),
        (
            Column("REASON", c.field("status.reason.message")),
            Column("CUSTOM RESOURCES", c.field("spec.custom_resources")),
            c.LABELS,
        ),
        ready="ONLINE",
    ),
    "InfrastructureProvider": View(("ip",), PROVIDER, (c.LABELS,)),
    "GlobalInfrastructureProvider": View(("gip",), PROVIDER, (c.LABELS,)),
    "Cloud": View((), CLOUD, CLOUD_WIDE, ready="ONLINE"),
    "GlobalCloud": View(("gcloud",), CLOUD, CLOUD_WIDE, ready="ONLINE"),
}

GROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    # API group -> its command name's aliases, as in the first Krake
    "core": (),
    "kubernetes": ("kube", "k8s"),
    "infrastructure": ("infra",),
}


def view(kind: Kind) -> View:
    return VIEWS[kind.name]


def command_name(kind: Kind) -> str:
    return kind.name.lower()


def aliases(kind: Kind) -> tuple[str, ...]:
    """Every other word that names the kind: its plural, then its aliases."""
    return (kind.resource, *view(kind).aliases)


def table(kind: Kind, *, wide: bool = False, all_namespaces: bool = False) -> list[Column]:
    """The kind's table: NAME, NAMESPACE (with -A), its columns, AGE, wide columns."""
    shown = [c.NAME]
    if kind.namespaced and all_namespaces:
        shown.append(c.NAMESPACE)
    shown.extend(view(kind).columns)
    shown.append(c.AGE)
    if wide:
        shown.extend(view(kind).wide)
    return shown


def by_word() -> dict[str, Kind]:
    """Every word that names a kind (case-insensitive), including the kind's own name."""
    words: dict[str, Kind] = {}
    for kind in KINDS.values():
        for word in (command_name(kind), *aliases(kind)):
            words[word.lower()] = kind
    return words


def lookup(word: str) -> Kind:
    """The kind `word` names; a usage error listing the kinds when none."""
    found = by_word().get(word.lower())
    if found is None:
        known = ", ".join(sorted(command_name(k) for k in KINDS.values()))
        raise click.BadParameter(f"unknown kind {word!r}; kinds: {known}", param_hint="KIND")
    return found


def state_names(kind: Kind) -> tuple[str, ...]:
    """The values of the kind's `status.state` enum (without the unspecified one)."""
    status: Any = kind.message.DESCRIPTOR.fields_by_name["status"].message_type
    state = status.fields_by_name.get("state")
    if state is None or state.enum_type is None:
        return ()
    return tuple(v.name for v in state.enum_type.values if v.number)
