"""The API surface declared in proto/: kinds, envelopes, methods, HTTP rules, JSON."""

from __future__ import annotations

import re

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, json_format, struct_pb2
from google.protobuf.descriptor import FieldDescriptor

from krake.core.v1 import core_service_pb2
from krake.infrastructure.v1 import infrastructure_service_pb2
from krake.kubernetes.v1 import kubernetes_pb2, kubernetes_service_pb2

SERVICES = {
    "core": core_service_pb2.DESCRIPTOR.services_by_name["CoreService"],
    "kubernetes": kubernetes_service_pb2.DESCRIPTOR.services_by_name["KubernetesService"],
    "infrastructure": infrastructure_service_pb2.DESCRIPTOR.services_by_name[
        "InfrastructureService"
    ],
}

# DESIGN.md §2: every kind, with whether it lives in a namespace. Role and RoleBinding
# are global, as in the first Krake (their rules name the namespaces they grant).
KINDS = {
    ("core", "Role"): False,
    ("core", "RoleBinding"): False,
    ("core", "Metric"): True,
    ("core", "GlobalMetric"): False,
    ("core", "MetricsProvider"): True,
    ("core", "GlobalMetricsProvider"): False,
    ("core", "Lease"): True,
    ("kubernetes", "Application"): True,
    ("kubernetes", "Cluster"): True,
    ("infrastructure", "InfrastructureProvider"): True,
    ("infrastructure", "GlobalInfrastructureProvider"): False,
    ("infrastructure", "Cloud"): True,
    ("infrastructure", "GlobalCloud"): False,
}
WITH_STATUS = {"Application", "Cluster", "Cloud", "GlobalCloud"}
SUBRESOURCES = {
    "Application": {"UpdateApplicationBinding", "CompleteApplication", "ShutdownApplication"},
    "Cluster": {"UpdateClusterBinding"},
}
PLURALS = {"Role": "Roles", "RoleBinding": "RoleBindings", "Metric": "Metrics"}


def plural(kind: str) -> str:
    return PLURALS.get(kind, kind + "s")


def methods() -> list[tuple[str, descriptor.MethodDescriptor]]:
    return [(group, m) for group, svc in SERVICES.items() for m in svc.methods]


def http_rule(method: descriptor.MethodDescriptor) -> http_pb2.HttpRule:
    return method.GetOptions().Extensions[annotations_pb2.http]


def rule_paths(rule: http_pb2.HttpRule) -> list[tuple[str, str]]:
    rules = [rule, *rule.additional_bindings]
    return [(r.WhichOneof("pattern"), getattr(r, r.WhichOneof("pattern"))) for r in rules]


def kind_message(group: str, kind: str) -> descriptor.Descriptor:
    return SERVICES[group].methods_by_name[f"Get{kind}"].output_type


def test_every_kind_of_the_design_is_served() -> None:
    served = {
        (group, m.name[3:]) for group, m in methods() if re.fullmatch(r"Get[A-Za-z]+", m.name)
    }
    assert served == set(KINDS)


@pytest.mark.parametrize(("group", "kind"), sorted(KINDS))
def test_resource_has_exactly_the_five_envelope_fields(group: str, kind: str) -> None:
    message = kind_message(group, kind)
    assert [f.name for f in message.fields] == ["api", "kind", "metadata", "spec", "status"]
    fields = message.fields_by_name
    assert fields["api"].type == fields["kind"].type == FieldDescriptor.TYPE_STRING
    assert fields["metadata"].message_type.full_name == "krake.core.v1.Metadata"
    assert fields["spec"].message_type is not None
    assert fields["status"].message_type is not None


@pytest.mark.parametrize(("group", "kind"), sorted(KINDS))
def test_kind_has_the_full_method_set(group: str, kind: str) -> None:
    service = SERVICES[group]
    kinds = plural(kind)
    expected = {
        f"Create{kind}",
        f"Get{kind}",
        f"List{kinds}",
        f"Watch{kinds}",
        f"Update{kind}",
        f"Delete{kind}",
        *SUBRESOURCES.get(kind, ()),
    }
    if kind in WITH_STATUS:
        expected.add(f"Update{kind}Status")
    message = kind_message(group, kind)
    responses = {message.name, f"List{kinds}Response", f"Watch{kinds}Response"}
    own = {m.name for m in service.methods if m.output_type.name in responses}
    assert own == expected
    for name in expected - {f"List{kinds}", f"Watch{kinds}"}:
        assert service.methods_by_name[name].output_type is message, name
    watch = service.methods_by_name[f"Watch{kinds}"]
    assert watch.server_streaming and not watch.client_streaming
    assert [f.name for f in watch.output_type.fields] == ["type", "object"]
    assert watch.output_type.fields_by_name["object"].message_type is message
    listing = service.methods_by_name[f"List{kinds}"].output_type
    assert [f.name for f in listing.fields] == ["items", "next_page_token", "resource_version"]
    assert [m.name for m in service.methods if m.client_streaming] == []


@pytest.mark.parametrize(("group", "kind"), sorted(KINDS))
def test_requests_name_the_namespace_only_for_namespaced_kinds(group: str, kind: str) -> None:
    service = SERVICES[group]
    for verb in ("Get", "Delete", "Create"):
        request = service.methods_by_name[f"{verb}{kind}"].input_type
        assert ("namespace" in request.fields_by_name) is KINDS[group, kind], request.name
    delete = service.methods_by_name[f"Delete{kind}"].input_type.fields_by_name
    assert delete["propagation"].enum_type.full_name == "krake.core.v1.Propagation"
    assert delete["resource_version"].type == FieldDescriptor.TYPE_STRING
    listing = service.methods_by_name[f"List{plural(kind)}"].input_type.fields_by_name
    assert {"label_selector", "field_selector", "page_size", "page_token"} <= set(listing)


@pytest.mark.parametrize(("group", "method"), methods(), ids=lambda v: getattr(v, "name", v))
def test_every_rpc_has_an_http_rule_in_the_krake_url_layout(
    group: str, method: descriptor.MethodDescriptor
) -> None:
    rule = http_rule(method)
    paths = rule_paths(rule)
    assert paths, f"{method.full_name} has no google.api.http rule"
    for _, path in paths:
        assert path.startswith(f"/{group}/"), path
        segments = path.strip("/").split("/")
        if segments[1] == "namespaces":
            assert re.fullmatch(r"\{([a-z_]+\.metadata\.)?namespace\}", segments[2]), path
    if method.name.startswith(("Create", "Update")) and not method.name.endswith("Binding"):
        assert rule.body == method.input_type.fields[-1].name
    verbs = {"Create": "post", "Get": "get", "List": "get", "Watch": "get", "Update": "put"}
    verbs |= {"Delete": "delete", "Complete": "put", "Shutdown": "put", "Preview": "get"}
    word = re.match(r"[A-Z][a-z]+", method.name)
    assert word is not None
    assert paths[0][0] == verbs[word.group()]


def test_application_urls_reproduce_the_first_krake() -> None:
    service = SERVICES["kubernetes"]
    assert rule_paths(http_rule(service.methods_by_name["ListApplications"])) == [
        ("get", "/kubernetes/namespaces/{namespace}/applications"),
        ("get", "/kubernetes/applications"),
    ]
    watch = service.methods_by_name["WatchApplications"]
    assert rule_paths(http_rule(watch)) == rule_paths(
        http_rule(service.methods_by_name["ListApplications"])
    )
    assert rule_paths(http_rule(service.methods_by_name["UpdateApplicationStatus"])) == [
        (
            "put",
            "/kubernetes/namespaces/{application.metadata.namespace}"
            "/applications/{application.metadata.name}/status",
        )
    ]
    roles = SERVICES["core"].methods_by_name["GetRole"]
    assert rule_paths(http_rule(roles)) == [("get", "/core/roles/{name}")]
    clouds = SERVICES["infrastructure"].methods_by_name["DeleteGlobalCloud"]
    assert rule_paths(http_rule(clouds)) == [("delete", "/infrastructure/globalclouds/{name}")]


def all_messages() -> list[descriptor.Descriptor]:
    seen: dict[str, descriptor.Descriptor] = {}

    def visit(message: descriptor.Descriptor) -> None:
        if message.full_name.startswith("krake.") and message.full_name not in seen:
            seen[message.full_name] = message
            for nested in message.nested_types:
                visit(nested)
            for field in message.fields:
                if field.message_type is not None:
                    visit(field.message_type)

    for _, method in methods():
        visit(method.input_type)
        visit(method.output_type)
    return list(seen.values())


def test_names_follow_the_style() -> None:
    messages = all_messages()
    assert len(messages) > 100
    for message in messages:
        for field in message.fields:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", field.name), field.full_name
        for enum in message.enum_types:
            values = [v.name for v in enum.values]
            assert values[0] == re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_UNSPECIFIED"
            prefix = values[0].removesuffix("UNSPECIFIED")
            assert not any(v.startswith(prefix) for v in values[1:]), enum.full_name


def application() -> kubernetes_pb2.Application:
    app = kubernetes_pb2.Application(api="kubernetes", kind="Application")
    app.metadata.name = "web"
    app.metadata.namespace = "testing"
    app.metadata.labels["tier"] = "front"
    app.metadata.resource_version = "42"
    manifest = struct_pb2.Struct()
    manifest.update({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2}})
    app.spec.manifest.append(manifest)
    app.spec.constraints.cluster.labels.append("location is DE")
    app.spec.constraints.migration = False
    app.status.state = kubernetes_pb2.Application.Status.State.RUNNING
    app.status.running_on.name = "cluster-1"
    app.status.container_health.running = 2
    app.status.placement.candidates.add(eligible=True, score=0.75).ref.name = "cluster-1"
    return app


def test_json_uses_snake_case_and_enum_names_and_round_trips() -> None:
    app = application()
    data = json_format.MessageToDict(app, preserving_proto_field_name=True)
    assert data["status"]["state"] == "RUNNING"
    assert data["status"]["running_on"] == {"name": "cluster-1"}
    assert data["metadata"]["resource_version"] == "42"
    assert data["spec"]["manifest"][0]["kind"] == "Deployment"
    assert data["spec"]["constraints"]["migration"] is False
    assert json_format.ParseDict(data, kubernetes_pb2.Application()) == app


def test_json_input_accepts_both_spellings() -> None:
    camel = json_format.MessageToDict(application())
    assert "resourceVersion" in camel["metadata"]
    assert json_format.ParseDict(camel, kubernetes_pb2.Application()) == application()


def test_unset_migration_is_distinguishable_from_false() -> None:
    app = kubernetes_pb2.Application()
    assert not app.spec.constraints.HasField("migration")
    app.spec.constraints.migration = False
    assert app.spec.constraints.HasField("migration")
