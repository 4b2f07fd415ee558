"""`core metric create` and `core metricsprovider create --type ...` (also for the
global kinds), and the `-m METRIC WEIGHT` options clusters and clouds share.

A provider type's settings are a row of `PROVIDER_FIELDS`: the flags it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import click

from krake.core.v1 import core_pb2
from krake_api.registry import Kind
from krake_cli import options as opt
from krake_cli import writes
from krake_cli.changes import submit, write_options
from krake_cli.session import Session, pass_session

PROVIDER_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "prometheus": ("url",),
    "kafka": ("url", "table", "comparison_column", "value_column"),
    "influx": ("url", "token", "org", "bucket"),
    "static": (),
}

metric_options = opt.compose(
    click.option(
        "-m",
        "--metric",
        "metrics",
        type=(str, float),
        multiple=True,
        metavar="NAME WEIGHT",
        help="A GlobalMetric and its weight for ranking (repeatable).",
    ),
    click.option(
        "--namespaced-metric",
        "namespaced_metrics",
        type=(str, float),
        multiple=True,
        metavar="NAME WEIGHT",
        help="A Metric of the namespace and its weight (repeatable).",
    ),
)


def metric_refs(
    globals_: Iterable[tuple[str, float]], namespaced: Iterable[tuple[str, float]]
) -> list[core_pb2.MetricRef]:
    return [core_pb2.MetricRef(name=n, weight=w, namespaced=False) for n, w in globals_] + [
        core_pb2.MetricRef(name=n, weight=w, namespaced=True) for n, w in namespaced
    ]


def new(
    kind: Kind, session: Session, name: str, namespace: str | None, labels: Iterable[str]
) -> Any:
    """An empty object of `kind` named `name`, in the namespace, with the labels."""
    obj: Any = kind.message(api=kind.group, kind=kind.name)
    obj.metadata.name = name
    obj.metadata.namespace = session.namespace(namespace) if kind.namespaced else ""
    obj.metadata.labels.update(opt.pairs(labels))
    return obj


def metric_command(kind: Kind) -> click.Command:
    @click.command("create")
    @click.argument("name")
    @click.option("--mp-name", "provider", required=True, help="Its metrics provider.")
    @click.option("--metric-name", help="Its name in the provider (default: NAME).")
    @click.option("--min", "minimum", type=float, help="Lowest meaningful value.")
    @click.option("--max", "maximum", type=float, help="Highest meaningful value.")
    @click.option(
        "--allowed-value",
        "allowed",
        type=float,
        multiple=True,
        help="A value it may take (repeatable).",
    )
    @opt.labels
    @write_options
    @pass_session
    def command(
        session: Session,
        /,
        name: str,
        provider: str,
        metric_name: str | None,
        minimum: float | None,
        maximum: float | None,
        allowed: tuple[float, ...],
        labels: tuple[str, ...],
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
    ) -> None:
        """Create a metric read from a metrics provider."""
        obj = new(kind, session, name, namespace, labels)
        obj.spec.provider.name = provider
        obj.spec.provider.metric = metric_name or name
        if minimum is not None:
            obj.spec.min = minimum
        if maximum is not None:
            obj.spec.max = maximum
        obj.spec.allowed_values.extend(allowed)
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command


def provider_command(kind: Kind) -> click.Command:
    @click.command("create")
    @click.argument("name")
    @click.option(
        "--type",
        "type_",
        required=True,
        type=click.Choice(list(PROVIDER_FIELDS)),
        help="The provider's type.",
    )
    @click.option("--url", help="prometheus, kafka (KSQL), influx: its URL.")
    @click.option("--table", help="kafka: the KSQL table.")
    @click.option("--comparison-column", help="kafka: the column holding metric names.")
    @click.option("--value-column", help="kafka: the column holding values.")
    @click.option("--token", envvar="INFLUX_TOKEN", help="influx: its token (or $INFLUX_TOKEN).")
    @click.option("--org", help="influx: the organization.")
    @click.option("--bucket", help="influx: the bucket.")
    @click.option(
        "-m",
        "--metric",
        "static",
        type=(str, float),
        multiple=True,
        metavar="NAME VALUE",
        help="static: a metric and its value (repeatable).",
    )
    @opt.labels
    @write_options
    @pass_session
    def command(
        session: Session,
        /,
        name: str,
        type_: str,
        static: tuple[tuple[str, float], ...],
        labels: tuple[str, ...],
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
        **settings: str | None,
    ) -> None:
        """Create a metrics provider of one type."""
        missing = [
            f"--{f.replace('_', '-')}" for f in PROVIDER_FIELDS[type_] if not settings.get(f)
        ]
        if missing:
            raise click.UsageError(f"--type {type_} needs {', '.join(missing)}")
        obj = new(kind, session, name, namespace, labels)
        chosen = getattr(obj.spec, type_)
        chosen.SetInParent()
        for field in PROVIDER_FIELDS[type_]:
            setattr(chosen, field, settings[field])
        if type_ == "static":
            chosen.metrics.update(dict(static))
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command
