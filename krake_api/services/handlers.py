"""gRPC services built from the descriptors: every RPC goes to its generic verb.

`handlers(store)` turns each service descriptor into one `grpc.GenericRpcHandler`.
Every handler has the same steps (as etcd's servers do): check the request size,
call the verb, and translate a `KrakeError` through the one table in
`krake_api.errors`. Watch RPCs stream from the per-kind watch caches
(`krake_api.watch`). An RPC whose verb had no adapter would answer UNIMPLEMENTED;
`unserved()` lists such RPCs and a test pins that list (empty).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import grpc
import grpc.aio
import structlog
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_status import rpc_status

from krake_api import errors, registry
from krake_api.registry import Binding, Kind
from krake_api.resources import subresources, validation, verbs
from krake_api.storage.base import Store
from krake_api.watch import streams

log = structlog.get_logger(__name__)
Adapter = Callable[[Store, Kind, Any], Awaitable[Message]]


async def _create(store: Store, kind: Kind, request: Any) -> Message:
    return await verbs.create(
        store, kind, getattr(request, "namespace", ""), getattr(request, kind.field)
    )


async def _get(store: Store, kind: Kind, request: Any) -> Message:
    return await verbs.get(store, kind, getattr(request, "namespace", ""), request.name)


async def _update(store: Store, kind: Kind, request: Any) -> Message:
    return await verbs.update(store, kind, getattr(request, kind.field))


async def _update_status(store: Store, kind: Kind, request: Any) -> Message:
    return await verbs.update_status(store, kind, getattr(request, kind.field))


async def _delete(store: Store, kind: Kind, request: Any) -> Message:
    return await verbs.delete(
        store,
        kind,
        getattr(request, "namespace", ""),
        request.name,
        resource_version=request.resource_version,
        propagation=request.propagation,
    )


def _list(response: type[Message]) -> Adapter:
    async def adapter(store: Store, kind: Kind, request: Any) -> Message:
        listing = await verbs.list_(
            store,
            kind,
            getattr(request, "namespace", ""),
            label_selector=request.label_selector,
            field_selector=request.field_selector,
            size=request.page_size,
            token=request.page_token,
        )
        return response(
            items=listing.items,
            next_page_token=listing.next_page_token,
            resource_version=listing.resource_version,
        )

    return adapter


async def _bind(store: Store, kind: Kind, request: Any) -> Message:
    (ref,) = [
        getattr(request, f.name)
        for f in request.DESCRIPTOR.fields
        if f.message_type is not None and f.message_type.full_name == "krake.core.v1.ResourceRef"
    ]
    return await subresources.bind(
        store, kind, getattr(request, "namespace", ""), request.name, ref
    )


def _hook(which: str) -> Adapter:
    async def adapter(store: Store, kind: Kind, request: Any) -> Message:
        return await subresources.hook(
            store, kind, request.namespace, request.name, which=which, token=request.token
        )

    return adapter


ADAPTERS: Final[Mapping[str, Adapter]] = {
    "create": _create,
    "get": _get,
    "update": _update,
    "update_status": _update_status,
    "delete": _delete,
    "bind": _bind,
    "complete": _hook("complete"),
    "shutdown": _hook("shutdown"),
}


def adapter(binding: Binding) -> Adapter | None:
    if binding.verb == "list":
        return _list(GetMessageClass(binding.method.output_type))
    return ADAPTERS.get(binding.verb)


def unserved(bindings: Mapping[str, Binding] | None = None) -> list[str]:
    """Full names of the RPCs that still answer UNIMPLEMENTED."""
    bindings = registry.bind() if bindings is None else bindings
    return sorted(name for name, b in bindings.items() if b.verb != "watch" and adapter(b) is None)


async def _abort(context: grpc.aio.ServicerContext, method: str, err: errors.KrakeError) -> None:
    log.info("api.error", method=method, code=errors.grpc_code(err).name, error=str(err))
    status = rpc_status.to_status(errors.to_status(err))
    await context.abort(status.code, status.details, status.trailing_metadata)


def _watch(caches: streams.WatchCaches, binding: Binding) -> grpc.RpcMethodHandler:
    kind, method = binding.kind, binding.method.full_name
    response_class = GetMessageClass(binding.method.output_type)

    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            namespace = getattr(request, "namespace", "")
            matches = streams.selection(
                kind, namespace, request.label_selector, request.field_selector
            )
            since = verbs.expected_revision(request.resource_version, "resource_version")
            async for event in streams.events(caches, kind, matches, since):
                yield streams.response(response_class, event)
        except errors.KrakeError as err:
            await _abort(context, method, err)

    return grpc.unary_stream_rpc_method_handler(
        behavior,
        request_deserializer=GetMessageClass(binding.method.input_type).FromString,
        response_serializer=response_class.SerializeToString,
    )


def _unary(store: Store, binding: Binding) -> grpc.RpcMethodHandler:
    run = adapter(binding)
    method = binding.method.full_name

    async def behavior(request: Message, context: grpc.aio.ServicerContext) -> Message:
        if run is None:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED, f"{method}: verb {binding.verb!r} is not served yet"
            )
        try:
            validation.check_size(request.ByteSize())
            return await run(store, binding.kind, request)  # type: ignore[misc]
        except errors.KrakeError as err:
            await _abort(context, method, err)
            raise  # abort() raises; this line is never reached

    request_class = GetMessageClass(binding.method.input_type)
    response_class = GetMessageClass(binding.method.output_type)
    return grpc.unary_unary_rpc_method_handler(
        behavior,
        request_deserializer=request_class.FromString,
        response_serializer=response_class.SerializeToString,
    )


def handlers(store: Store, caches: streams.WatchCaches) -> list[grpc.GenericRpcHandler]:
    """One generic handler per service, every RPC bound (start-up fails otherwise)."""
    bindings = registry.bind()
    result = []
    for service in registry.SERVICES:
        methods = {}
        for method in service.methods:
            binding = bindings[f"/{service.full_name}/{method.name}"]
            methods[method.name] = (
                _watch(caches, binding) if binding.verb == "watch" else _unary(store, binding)
            )
        result.append(grpc.method_handlers_generic_handler(service.full_name, methods))
    return result
