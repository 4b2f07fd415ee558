"""Per-kind validation rules, as a table keyed by protobuf message full name.

`check(message, path)` runs the row of `message`'s type, if any; rows call
`check` on their sub-messages, so a oneof member or a repeated MetricRef is
checked by its own row wherever it appears. Rows are keyed by the SPEC message,
so GlobalCloud (whose spec is a Cloud.Spec) gets Cloud's rules for free.
Kubernetes manifests and kubeconfigs are Structs; `validation_structs` reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final, Protocol, TypeVar

from google.protobuf.message import Message

from krake.core.v1 import core_pb2
from krake.infrastructure.v1 import infrastructure_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import constraints as grammar
from krake_api import errors
from krake_api.resources import names, validation_structs

Violations = Iterator[errors.FieldViolation]
Check = Callable[[Message, str], Violations]
M = TypeVar("M", bound=Message)

ROLE_VERBS: Final = frozenset({"create", "get", "list", "watch", "update", "delete", "*"})
BACKOFF_MINIMUMS: Final[Mapping[str, int]] = {"backoff": 0, "backoff_delay": 0, "backoff_limit": -1}
APPLICATION_MINIMUMS: Final[Mapping[str, int]] = {
    **BACKOFF_MINIMUMS,
    "shutdown_grace_time": 0,
    "shutdown_retry_count": 0,
}


def check(message: Message, path: str) -> Violations:
    """The violations of `message` (found at `path`) by its type's row; none without a row."""
    row = CHECKS.get(message.DESCRIPTOR.full_name)
    return row(message, path) if row else iter(())


# --- helpers shared by the rows --------------------------------------------------


def problem(path: str, description: str | None) -> Violations:
    """One violation at `path` when a `names` check found a problem."""
    if description:
        yield errors.FieldViolation(path, description)


def required(message: Message, path: str, *fields: str) -> Violations:
    for field in fields:
        if not getattr(message, field):
            yield errors.FieldViolation(f"{path}.{field}", "must not be empty")


def one_of(message: Message, oneof: str, path: str) -> Violations:
    """The set member of `oneof`, checked by its own row; a violation if none is set."""
    member = message.WhichOneof(oneof)
    if member is None:
        choices = ", ".join(f.name for f in message.DESCRIPTOR.oneofs_by_name[oneof].fields)
        yield errors.FieldViolation(f"{path}.{oneof}", f"one of {choices} must be set")
    else:
        yield from check(getattr(message, member), f"{path}.{member}")


def each(messages: Iterable[Message], path: str) -> Violations:
    for i, message in enumerate(messages):
        yield from check(message, f"{path}[{i}]")


def at_least(message: Message, path: str, minimums: Mapping[str, int]) -> Violations:
    for field, minimum in minimums.items():
        value = getattr(message, field)
        if value < minimum:
            yield errors.FieldViolation(
                f"{path}.{field}", f"must be at least {minimum}, is {value}"
            )


def custom_resources(values: Iterable[str], path: str) -> Violations:
    for i, value in enumerate(values):
        description = names.dns_subdomain(value)
        if description is None and "." not in value:
            description = f"{value!r} is not of the form <plural>.<group>"
        yield from problem(f"{path}[{i}]", description)


def constraints(message: Message, path: str) -> Violations:
    """Label and metric constraints parse (krake_api/constraints.py)."""
    for field, parse in (
        ("labels", grammar.parse_label),
        ("metrics", grammar.parse_metric),
    ):
        for i, text in enumerate(getattr(message, field)):
            try:
                parse(text)
            except grammar.ConstraintError as err:
                yield errors.FieldViolation(f"{path}.{field}[{i}]", str(err))


# --- rows --------------------------------------------------------------------------


def application(spec: kubernetes_pb2.Application.Spec, path: str) -> Violations:
    if not spec.manifest:
        yield errors.FieldViolation(f"{path}.manifest", "must not be empty")
    for field in ("manifest", "observer_schema"):
        for i, item in enumerate(getattr(spec, field)):
            yield from validation_structs.kubernetes_object(item, f"{path}.{field}[{i}]")
    yield from at_least(spec, path, APPLICATION_MINIMUMS)
    crds = spec.constraints.cluster.custom_resources
    yield from custom_resources(crds, f"{path}.constraints.cluster.custom_resources")
    yield from constraints(spec.constraints.cluster, f"{path}.constraints.cluster")


def cluster(spec: kubernetes_pb2.Cluster.Spec, path: str) -> Violations:
    if spec.kubeconfig.fields:
        yield from validation_structs.kubeconfig(spec.kubeconfig, f"{path}.kubeconfig")
    yield from custom_resources(spec.custom_resources, f"{path}.custom_resources")
    yield from each(spec.metrics, f"{path}.metrics")
    yield from at_least(spec, path, BACKOFF_MINIMUMS)
    yield from constraints(spec.constraints.cloud, f"{path}.constraints.cloud")


def metric_ref(ref: core_pb2.MetricRef, path: str) -> Violations:
    yield from problem(f"{path}.name", names.dns_subdomain(ref.name))
    if not ref.weight > 0:
        yield errors.FieldViolation(f"{path}.weight", f"must be greater than 0, is {ref.weight}")


def metric(spec: core_pb2.Metric.Spec, path: str) -> Violations:
    yield from problem(f"{path}.provider.name", names.dns_subdomain(spec.provider.name))
    yield from required(spec.provider, f"{path}.provider", "metric")
    if spec.HasField("min") and spec.HasField("max") and not spec.min < spec.max:
        yield errors.FieldViolation(
            f"{path}.min", f"must be less than max {spec.max}, is {spec.min}"
        )


def metrics_provider(spec: core_pb2.MetricsProvider.Spec, path: str) -> Violations:
    return one_of(spec, "type", path)


class HasUrl(Protocol):
    url: str


def url_only(provider: HasUrl, path: str) -> Violations:
    return problem(f"{path}.url", names.http_url(provider.url))


def kafka(provider: core_pb2.MetricsProvider.Kafka, path: str) -> Violations:
    yield from url_only(provider, path)
    yield from required(provider, path, "table", "comparison_column", "value_column")


def influx(provider: core_pb2.MetricsProvider.Influx, path: str) -> Violations:
    yield from url_only(provider, path)
    yield from required(provider, path, "token", "org", "bucket")


def static(provider: core_pb2.MetricsProvider.Static, path: str) -> Violations:
    if "" in provider.metrics:
        yield errors.FieldViolation(f'{path}.metrics[""]', "metric names must not be empty")


def role(spec: core_pb2.Role.Spec, path: str) -> Violations:
    return each(spec.rules, f"{path}.rules")


def role_rule(rule: core_pb2.Role.Rule, path: str) -> Violations:
    if not rule.verbs:
        yield errors.FieldViolation(f"{path}.verbs", "must not be empty")
    for i, verb in enumerate(rule.verbs):
        if verb not in ROLE_VERBS:
            choices = ", ".join(sorted(ROLE_VERBS))
            yield errors.FieldViolation(f"{path}.verbs[{i}]", f"{verb!r} is not one of {choices}")
    if not rule.resources:
        yield errors.FieldViolation(f"{path}.resources", "must not be empty")


def role_binding(spec: core_pb2.RoleBinding.Spec, path: str) -> Violations:
    yield from required(spec, path, "users", "roles")
    for i, user in enumerate(spec.users):
        if not user:
            yield errors.FieldViolation(f"{path}.users[{i}]", "must not be empty")
    for i, name in enumerate(spec.roles):
        yield from problem(f"{path}.roles[{i}]", names.dns_subdomain(name))


def lease(spec: core_pb2.Lease.Spec, path: str) -> Violations:
    if spec.HasField("duration") and (spec.duration.seconds < 0 or spec.duration.nanos < 0):
        yield errors.FieldViolation(f"{path}.duration", "must not be negative")


def infrastructure_provider(
    spec: infrastructure_pb2.InfrastructureProvider.Spec, path: str
) -> Violations:
    return one_of(spec, "type", path)


def cloud(spec: infrastructure_pb2.Cloud.Spec, path: str) -> Violations:
    return one_of(spec, "type", path)


def openstack(cloud: infrastructure_pb2.Cloud.Openstack, path: str) -> Violations:
    yield from url_only(cloud, path)
    yield from one_of(cloud.auth, "method", f"{path}.auth")
    yield from each(cloud.metrics, f"{path}.metrics")
    provider = cloud.infrastructure_provider.name
    yield from problem(f"{path}.infrastructure_provider.name", names.dns_subdomain(provider))


def password_auth(auth: infrastructure_pb2.Cloud.PasswordAuth, path: str) -> Violations:
    yield from required(auth.user, f"{path}.user", "username", "password")
    yield from required(auth.project, f"{path}.project", "name")


def application_credential(
    credential: infrastructure_pb2.Cloud.ApplicationCredential, path: str
) -> Violations:
    return required(credential, path, "id", "secret")


def _row(message: type[M], rule: Callable[[M, str], Violations]) -> tuple[str, Check]:
    """A table row; the wrapper narrows the Message to the rule's own type."""

    def run(value: Message, path: str) -> Violations:
        assert isinstance(value, message)
        return rule(value, path)

    return message.DESCRIPTOR.full_name, run


CHECKS: Final[Mapping[str, Check]] = dict(
    [
        _row(kubernetes_pb2.Application.Spec, application),
        _row(kubernetes_pb2.Cluster.Spec, cluster),
        _row(core_pb2.MetricRef, metric_ref),
        _row(core_pb2.Metric.Spec, metric),
        _row(core_pb2.MetricsProvider.Spec, metrics_provider),
        _row(core_pb2.MetricsProvider.Prometheus, url_only),
        _row(core_pb2.MetricsProvider.Kafka, kafka),
        _row(core_pb2.MetricsProvider.Influx, influx),
        _row(core_pb2.MetricsProvider.Static, static),
        _row(core_pb2.Role.Spec, role),
        _row(core_pb2.Role.Rule, role_rule),
        _row(core_pb2.RoleBinding.Spec, role_binding),
        _row(core_pb2.Lease.Spec, lease),
        _row(infrastructure_pb2.InfrastructureProvider.Spec, infrastructure_provider),
        _row(infrastructure_pb2.InfrastructureProvider.Im, url_only),
        _row(infrastructure_pb2.Cloud.Spec, cloud),
        _row(infrastructure_pb2.Cloud.Openstack, openstack),
        _row(infrastructure_pb2.Cloud.PasswordAuth, password_auth),
        _row(infrastructure_pb2.Cloud.ApplicationCredential, application_credential),
    ]
)
