"""gRPC services built from the descriptors: every RPC goes to its generic verb.

`handlers(store, caches, chain)` turns each service descriptor into one
`grpc.GenericRpcHandler`. Every RPC has the same steps: the interceptor chain
opens a `Call` (request id, caller), the request size is checked, the
interceptors admit the call, the verb runs with the caller's identity, and a
`KrakeError` becomes a status through the one table in `krake_api.errors`; any
other exception is a bug: logged with its traceback, answered INTERNAL. Watch
RPCs stream from the per-kind watch caches (`krake_api.watch`). Every verb has an
adapter; `unserved()` lists RPCs without one and a test pins that list (empty)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import grpc
import grpc.aio
import structlog
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_status import rpc_status

from krake_api import errors, registry
from krake_api.identity import Caller
from krake_api.registry import Binding, Kind
from krake_api.resources import placement_preview, subresources, validation, verbs
from krake_api.services.chain import Call, Chain
from krake_api.storage.base import Store
from krake_api.watch import streams

log = structlog.get_logger(__name__)
Adapter = Callable[[Store, Kind, Any, Caller], Awaitable[Message]]


async def _create(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
    return await verbs.create(
        store, kind, getattr(request, "namespace", ""), getattr(request, kind.field), caller=caller
    )


async def _get(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
    return await verbs.get(store, kind, getattr(request, "namespace", ""), request.name)


async def _update(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
    return await verbs.update(store, kind, getattr(request, kind.field), caller=caller)


async def _update_status(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
    return await verbs.update_status(store, kind, getattr(request, kind.field), caller=caller)


async def _delete(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
    return await verbs.delete(
        store,
        kind,
        getattr(request, "namespace", ""),
        request.name,
        resource_version=request.resource_version,
        propagation=request.propagation,
        caller=caller,
    )


def _list(response: type[Message]) -> Adapter:
    async def adapter(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
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


async def _bind(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
    (ref,) = [
        getattr(request, f.name)
        for f in request.DESCRIPTOR.fields
        if f.message_type is not None and f.message_type.full_name == "krake.core.v1.ResourceRef"
    ]
    return await subresources.bind(
        store, kind, getattr(request, "namespace", ""), request.name, ref, caller=caller
    )


def _hook(which: str) -> Adapter:
    async def adapter(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
        return await subresources.hook(
            store,
            kind,
            request.namespace,
            request.name,
            which=which,
            token=request.token,
            caller=caller,
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
    "preview_placement": placement_preview.adapter,
}


def adapter(binding: Binding) -> Adapter | None:
    if binding.verb == "list":
        return _list(GetMessageClass(binding.method.output_type))
    return ADAPTERS.get(binding.verb)


def unserved(bindings: Mapping[str, Binding] | None = None) -> list[str]:
    """Full names of the RPCs that still answer UNIMPLEMENTED."""
    bindings = registry.bind() if bindings is None else bindings
    return sorted(name for name, b in bindings.items() if b.verb != "watch" and adapter(b) is None)


async def _abort(context: grpc.aio.ServicerContext, call: Call, err: errors.KrakeError) -> None:
    call.code, call.error = errors.grpc_code(err), str(err)
    status = rpc_status.to_status(errors.to_status(err))
    await context.abort(status.code, status.details, call.trailing(*status.trailing_metadata))


async def _fail(context: grpc.aio.ServicerContext, call: Call, err: Exception) -> None:
    """A bug, not a client error: log it in full, tell the client only the request id."""
    call.code, call.error = grpc.StatusCode.INTERNAL, repr(err)
    log.exception("api.internal_error", method=call.method)
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error; the server log has request {call.request_id}",
        call.trailing(),
    )


async def _served(
    context: grpc.aio.ServicerContext,
    chain: Chain,
    call: Call,
    work: Callable[[], Awaitable[None]],
) -> None:
    """Run `work` as `call`: errors become the call's status; observers see the end."""
    try:
        await work()
    except errors.KrakeError as err:
        await _abort(context, call, err)
    except asyncio.CancelledError:
        call.code = grpc.StatusCode.CANCELLED
        raise
    except Exception as err:  # the one place that turns bugs into INTERNAL
        if context.cancelled():  # the client went away while we wrote to it
            call.code = grpc.StatusCode.CANCELLED
            return
        await _fail(context, call, err)
    finally:
        chain.finish(call)


def _watch(caches: streams.WatchCaches, chain: Chain, binding: Binding) -> grpc.RpcMethodHandler:
    kind = binding.kind
    response_class = GetMessageClass(binding.method.output_type)

    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> None:
        call = await chain.begin(binding, context)

        async def work() -> None:
            await chain.admit(call, request)
            namespace = getattr(request, "namespace", "")
            matches = streams.selection(
                kind, namespace, request.label_selector, request.field_selector
            )
            since = verbs.expected_revision(request.resource_version, "resource_version")
            async for event in streams.events(caches, kind, matches, since):
                await context.write(streams.response(response_class, event))
                call.messages += 1

        await _served(context, chain, call, work)

    return grpc.unary_stream_rpc_method_handler(
        behavior,
        request_deserializer=GetMessageClass(binding.method.input_type).FromString,
        response_serializer=response_class.SerializeToString,
    )


def _unary(store: Store, chain: Chain, binding: Binding) -> grpc.RpcMethodHandler:
    run = adapter(binding)
    assert run is not None, binding.method_path  # unserved() is empty, a test pins it

    async def behavior(request: Message, context: grpc.aio.ServicerContext) -> Message | None:
        call = await chain.begin(binding, context)
        response: Message | None = None

        async def work() -> None:
            nonlocal response
            validation.check_size(request.ByteSize())
            await chain.admit(call, request)
            response = await run(store, binding.kind, request, call.caller)
            call.messages = 1

        await _served(context, chain, call, work)
        return response

    request_class = GetMessageClass(binding.method.input_type)
    response_class = GetMessageClass(binding.method.output_type)
    return grpc.unary_unary_rpc_method_handler(
        behavior,
        request_deserializer=request_class.FromString,
        response_serializer=response_class.SerializeToString,
    )


def method_handlers(
    store: Store, caches: streams.WatchCaches, chain: Chain | None = None
) -> dict[str, grpc.RpcMethodHandler]:
    """Every RPC's handler by its path (start-up fails if any RPC is unbound)."""
    chain = Chain() if chain is None else chain
    return {
        path: _watch(caches, chain, binding)
        if binding.verb == "watch"
        else _unary(store, chain, binding)
        for path, binding in registry.bind().items()
    }


def handlers(
    store: Store, caches: streams.WatchCaches, chain: Chain | None = None
) -> list[grpc.GenericRpcHandler]:
    """One generic handler per service, over `method_handlers`."""
    by_path = method_handlers(store, caches, chain)
    return [
        grpc.method_handlers_generic_handler(
            service.full_name,
            {m.name: by_path[f"/{service.full_name}/{m.name}"] for m in service.methods},
        )
        for service in registry.SERVICES
    ]
