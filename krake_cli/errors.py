"""Errors as users read them: one clear line (field violations listed under it),
exit code 1; click's usage errors keep exit code 2.

`explain` turns a gRPC error into that line. It names the object when the caller
knows which one it asked for (`Application "web" not found in namespace "prod"`),
lists the `google.rpc.BadRequest` field violations of an INVALID_ARGUMENT, and
names the address when the API cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import click
import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from krake_api.registry import Kind

HINTS: Final[Mapping[grpc.StatusCode, str]] = {
    grpc.StatusCode.UNAUTHENTICATED: "give a token: --token, --token-file or the context's token",
    grpc.StatusCode.ABORTED: "it changed meanwhile: read it again and retry",
}
ABOUT_SUBJECT: Final = frozenset(
    {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.INVALID_ARGUMENT}
)


class Failure(click.ClickException):
    """A failed command: `Error: <message>` on stderr, exit code 1."""

    exit_code = 1


class Missing(Failure):
    """The object a command names does not exist."""


@dataclass(frozen=True, slots=True)
class Subject:
    """The object a call is about, for messages."""

    kind: Kind
    namespace: str
    name: str

    def __str__(self) -> str:
        return f'{self.kind.name} "{self.name}"'

    @property
    def where(self) -> str:
        return f' in namespace "{self.namespace}"' if self.kind.namespaced else ""


def violations(err: grpc.RpcError) -> list[tuple[str, str]]:
    """The (field, description) pairs of the error's BadRequest details, if any."""
    try:
        status = rpc_status.from_call(err)
    except ValueError:  # a status whose message or code disagrees with the call's
        return []
    found: list[tuple[str, str]] = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            found.extend((v.field, v.description) for v in request.field_violations)
    return found


def explain(err: Any, subject: Subject | None = None, address: str = "") -> str:
    """One line (plus one line per field violation) for a gRPC error."""
    code: grpc.StatusCode = err.code()
    details: str = err.details() or code.name
    if code == grpc.StatusCode.NOT_FOUND and subject is not None:
        return f"{subject} not found{subject.where}"
    if code == grpc.StatusCode.ALREADY_EXISTS and subject is not None:
        return f"{subject} already exists{subject.where}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return unreachable(address, details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the Krake API at {address} did not answer in time ({details})"
    found = violations(err) if code == grpc.StatusCode.INVALID_ARGUMENT else []
    if found:
        head = f"{subject}{subject.where} is invalid:" if subject else "invalid request:"
        return "\n".join([head, *(f"  - {field}: {problem}" for field, problem in found)])
    hint = HINTS.get(code)
    return f"{details} ({hint})" if hint else details


def unreachable(address: str, details: str) -> str:
    return (
        f"cannot reach the Krake API at {address}: {details} "
        "(is krake-api running? set --api or the context's api)"
    )


@contextmanager
def about(subject: Subject) -> Iterator[None]:
    """Turn a gRPC error about `subject` raised inside into a `Failure` naming it;
    other errors (the API unreachable, ...) go on to `Session.run`, which knows the
    address."""
    try:
        yield
    except grpc.RpcError as err:
        if err.code() not in ABOUT_SUBJECT:
            raise
        missing = err.code() == grpc.StatusCode.NOT_FOUND
        raise (Missing if missing else Failure)(explain(err, subject)) from None
