"""The API's errors and THE table that maps them to gRPC status codes (DESIGN.md §6).

Verbs raise `KrakeError` subclasses; the service layer turns them into a gRPC
status in one place (`to_status`). `InvalidArgument` carries the field
violations that become a `google.rpc.BadRequest` detail, so clients (and the
HTTP gateway) can name the offending field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: its path in the request (`spec.manifest[0].kind`) and why."""

    field: str
    description: str


MAX_FIELD_PATH: Final = 200


def shorten(text: str, limit: int) -> str:
    """`text` cut in the middle to `limit` characters: both ends usually matter."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[len(text) - (limit - 1 - half) :]}"


class KrakeError(Exception):
    """Base of every error a verb raises on purpose; the message is user-facing."""


class InvalidArgument(KrakeError):
    """Field violations: at most `MAX_VIOLATIONS` are kept (and their descriptions
    cut to `MAX_DESCRIPTION` characters) so that the status fits in gRPC's default
    8 KiB of trailing metadata; the message names the first few."""

    MAX_VIOLATIONS = 20
    MAX_DESCRIPTION = 200
    IN_MESSAGE = 3

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        kept = [
            FieldViolation(
                shorten(v.field, MAX_FIELD_PATH), shorten(v.description, self.MAX_DESCRIPTION)
            )
            for v in violations[: self.MAX_VIOLATIONS]
        ]
        if len(violations) > self.MAX_VIOLATIONS:
            more = len(violations) - self.MAX_VIOLATIONS
            kept.append(FieldViolation("", f"and {more} more violations not listed"))
        self.violations = tuple(kept)
        named = "; ".join(f"{v.field}: {v.description}" for v in kept[: self.IN_MESSAGE])
        rest = len(violations) - self.IN_MESSAGE
        super().__init__(f"invalid request: {named}" + (f" (and {rest} more)" if rest > 0 else ""))


class NotFound(KrakeError):
    pass


class AlreadyExists(KrakeError):
    pass


class StaleResourceVersion(KrakeError):
    """The object changed since the resource_version the caller holds."""


class FailedPrecondition(KrakeError):
    pass


class WatchTooOld(KrakeError):
    """The requested resource_version or page token is no longer served: re-list."""


class ResourceExhausted(KrakeError):
    pass


class Unauthenticated(KrakeError):
    pass


class PermissionDenied(KrakeError):
    pass


class ServiceUnavailable(KrakeError):
    """Storage did not answer in time; the outcome of a write is unknown."""


GRPC_CODE: Final[Mapping[type[KrakeError], grpc.StatusCode]] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    StaleResourceVersion: grpc.StatusCode.ABORTED,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    WatchTooOld: grpc.StatusCode.OUT_OF_RANGE,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    ServiceUnavailable: grpc.StatusCode.UNAVAILABLE,
}


def grpc_code(err: KrakeError) -> grpc.StatusCode:
    """The status code of `err` (a subclass inherits its base's code)."""
    for cls in type(err).__mro__:
        if cls in GRPC_CODE:
            return GRPC_CODE[cls]
    return grpc.StatusCode.INTERNAL


def to_status(err: KrakeError) -> status_pb2.Status:
    """A `google.rpc.Status` for `err`, with a BadRequest detail for InvalidArgument."""
    code = grpc_code(err)
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=str(err))
    if isinstance(err, InvalidArgument):
        detail = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in err.violations
            ]
        )
        status.details.add().Pack(detail)
    return status
