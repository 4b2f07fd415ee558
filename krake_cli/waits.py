"""`--wait`: block until an object reaches a state, or is gone.

A state is reached when `status.state` has that value and, for kinds whose status
has `observed_generation`, the status describes the current spec
(`observed_generation >= metadata.generation`), so an update does not return on
the state the previous spec had. Kinds without a state are ready once they exist.

The object is watched from the resource_version of the write, with a field
selector on its name: every change after the write arrives, none is missed. A
watch the server ends (too old, too slow, draining) is resumed from a fresh read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import click
import grpc

from krake.core.v1 import metadata_pb2
from krake_api.registry import Kind
from krake_cli import kinds
from krake_cli.columns import NONE, field
from krake_cli.errors import Failure, Subject
from krake_cli.options import DEFAULT_WAIT
from krake_cli.progress import Progress
from krake_controllers.runtime.client import KindClient

GONE: Final = "deleted"
RESUMED: Final = frozenset({grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclass(frozen=True, slots=True)
class Target:
    state: str  # a status.state value name, GONE, or "" (the object exists)

    def reached(self, obj: Any) -> bool:
        if self.state == GONE:
            return obj is None
        if obj is None or not self.state:
            return obj is not None
        status = obj.status
        current = field("status.state")(obj)
        observed = "observed_generation" not in status.DESCRIPTOR.fields_by_name or (
            status.observed_generation >= obj.metadata.generation
        )
        return current == self.state and observed

    def __str__(self) -> str:
        return self.state or "created"


def target(kind: Kind, wanted: str, *, deleting: bool = False) -> Target:
    """The target `--wait[=wanted]` names; a usage error for a state the kind lacks."""
    if deleting:
        if wanted not in (DEFAULT_WAIT, GONE):
            raise click.BadParameter("delete waits until the object is gone", param_hint="--wait")
        return Target(GONE)
    if wanted == DEFAULT_WAIT:
        return Target(kinds.view(kind).ready)
    states = kinds.state_names(kind)
    if wanted.upper() not in states:
        known = ", ".join(states) or f"none: a {kind.name} has no state"
        raise click.BadParameter(f"{wanted!r} is not a state; states: {known}", param_hint="--wait")
    return Target(wanted.upper())


async def until(
    client: KindClient, obj: Any, goal: Target, timeout: float, progress: Progress
) -> Any:
    """The object once it reaches `goal` (None once gone); `Failure` after `timeout`."""
    subject = Subject(client.kind, obj.metadata.namespace, obj.metadata.name)
    latest = [obj]

    def seen(current: Any) -> bool:
        latest[0] = current
        if current is not None:
            progress.show(f"waiting for {subject} to be {goal}: {field('status.state')(current)}")
        return goal.reached(current)

    async with progress.running():
        try:
            return await asyncio.wait_for(follow(client, obj, seen), timeout)
        except TimeoutError:
            state = "gone" if latest[0] is None else field("status.state")(latest[0])
            now = "" if state == NONE else f" (it is {state})"
            raise Failure(
                f"timed out after {timeout:g}s waiting for {subject} to be {goal}{now}"
            ) from None


async def follow(client: KindClient, obj: Any, seen: Callable[[Any], bool]) -> Any:
    """Feed `seen` the object (None: deleted) after each change until it says True."""
    meta = obj.metadata
    subject = Subject(client.kind, meta.namespace, meta.name)
    current: Any = obj
    while True:
        if seen(current):
            return current
        if current is None:
            raise Failure(f"{subject} was deleted")
        try:
            async for event in client.events(
                meta.namespace,
                resource_version=current.metadata.resource_version,
                field_selector=f"metadata.name={meta.name}",
            ):
                if event.type == metadata_pb2.BOOKMARK:
                    continue
                current = None if event.type == metadata_pb2.DELETED else event.object
                if seen(current):
                    return current
                if current is None:
                    raise Failure(f"{subject} was deleted")
        except grpc.RpcError as err:
            if err.code() not in RESUMED:
                raise
        current = await reread(client, meta.namespace, meta.name)


async def reread(client: KindClient, namespace: str, name: str) -> Any:
    """The object now, or None when it is gone."""
    try:
        return await client.get(namespace, name)
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
