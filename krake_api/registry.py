"""The registry of kinds and the binding of every RPC to a generic verb.

Both are read from the service descriptors in `generated/`, so a new kind needs only
its proto message and RPCs: a `Get<Kind>` RPC makes a kind; `List<Kinds>` gives its
plural; a `namespace` field in the Get request makes it namespaced; an
`Update<Kind>Status` RPC gives it a status verb. `bind` maps each RPC name to one
verb by the patterns in `VERBS` and fails if any RPC matches none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from krake.core.v1 import core_service_pb2
from krake.infrastructure.v1 import infrastructure_service_pb2
from krake.kubernetes.v1 import kubernetes_service_pb2

SERVICES: Final[Sequence[ServiceDescriptor]] = (
    core_service_pb2.DESCRIPTOR.services_by_name["CoreService"],
    kubernetes_service_pb2.DESCRIPTOR.services_by_name["KubernetesService"],
    infrastructure_service_pb2.DESCRIPTOR.services_by_name["InfrastructureService"],
)

VERBS: Final[Sequence[tuple[str, str]]] = (
    # (RPC name pattern; {kind} and {plural} are filled per kind) -> verb
    ("Create{kind}", "create"),
    ("Get{kind}", "get"),
    ("List{plural}", "list"),
    ("Watch{plural}", "watch"),
    ("Update{kind}", "update"),
    ("Update{kind}Status", "update_status"),
    ("Update{kind}Binding", "bind"),
    ("Complete{kind}", "complete"),
    ("Shutdown{kind}", "shutdown"),
    ("Preview{kind}Placement", "preview_placement"),
    ("Delete{kind}", "delete"),
)


@dataclass(frozen=True, slots=True)
class Kind:
    """One resource kind: a row, not a module."""

    group: str  # "kubernetes"
    name: str  # "Application"
    plural: str  # "Applications", as in ListApplications
    message: type[Message]
    namespaced: bool
    field: str  # the request field that holds the object: "application"

    @property
    def resource(self) -> str:
        """The lower-case plural of URLs and RBAC rules: "applications"."""
        return self.plural.lower()

    def prefix(self, namespace: str = "") -> str:
        """Storage prefix of the kind's objects, in one namespace or all of them."""
        base = f"/krake/{self.group}/{self.name.lower()}/"
        return f"{base}{namespace}/" if self.namespaced and namespace else base

    def key(self, namespace: str, name: str) -> str:
        """Storage key: /krake/<group>/<kind>/<namespace>/<name> (global: no namespace)."""
        return f"{self.prefix(namespace)}{name}"


@dataclass(frozen=True, slots=True)
class Binding:
    """An RPC bound to a generic verb for one kind."""

    method: MethodDescriptor
    verb: str
    kind: Kind

    @property
    def method_path(self) -> str:
        """The RPC's path on the wire: `/package.Service/Method`."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"


class UnboundMethod(Exception):
    """Raised at start-up: an RPC matches no verb pattern."""


def _kind(service: ServiceDescriptor, get: MethodDescriptor) -> Kind:
    message = get.output_type
    listing = next(
        m
        for m in service.methods
        if m.name.startswith("List")
        and m.output_type.fields_by_name["items"].message_type is message
    )
    create = service.methods_by_name[f"Create{message.name}"].input_type
    field = next(f.name for f in create.fields if f.message_type is message)
    return Kind(
        group=service.full_name.split(".")[1],
        name=message.name,
        plural=listing.name.removeprefix("List"),
        message=GetMessageClass(message),
        namespaced="namespace" in get.input_type.fields_by_name,
        field=field,
    )


def kinds(services: Iterable[ServiceDescriptor] = SERVICES) -> list[Kind]:
    """Every kind the services serve, in declaration order."""
    return [
        _kind(service, method)
        for service in services
        for method in service.methods
        if re.fullmatch(r"Get[A-Z]\w*", method.name)
    ]


def bind(services: Iterable[ServiceDescriptor] = SERVICES) -> dict[str, Binding]:
    """Map every RPC's full name ("/krake.kubernetes.v1.KubernetesService/GetApplication")
    to its verb and kind; `UnboundMethod` names every RPC that matches no pattern."""
    services = list(services)
    names: dict[str, tuple[str, Kind]] = {}
    for kind in kinds(services):
        for pattern, verb in VERBS:
            names[pattern.format(kind=kind.name, plural=kind.plural)] = (verb, kind)
    bindings: dict[str, Binding] = {}
    unbound: list[str] = []
    for service in services:
        for method in service.methods:
            if method.name in names:
                verb, kind = names[method.name]
                bindings[f"/{service.full_name}/{method.name}"] = Binding(method, verb, kind)
            else:
                unbound.append(method.full_name)
    if unbound:
        raise UnboundMethod(f"no verb for RPC(s): {', '.join(unbound)}")
    return bindings


KINDS: Final[Mapping[str, Kind]] = {kind.name: kind for kind in kinds()}
