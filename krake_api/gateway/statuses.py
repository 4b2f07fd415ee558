"""THE table gRPC status code -> HTTP status (DESIGN.md §6), and the error body.

Every error the gateway answers, from the API server or its own (unknown path,
wrong method, bad JSON, body too large), is a `StatusError` carrying a
`google.rpc.Status`. Its HTTP body is that status in JSON, always with the three
keys `{"code", "message", "details"}`: `code` is the numeric gRPC code (as in
`google.rpc.Status`), `details` the packed details (`google.rpc.BadRequest` with
its `field_violations`, ...), each with its `@type`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Final

import grpc
from google.protobuf import any_pb2, json_format
from google.rpc import status_pb2

from krake_api import errors

HTTP_STATUS: Final[Mapping[grpc.StatusCode, int]] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 412,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 410,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

CODES: Final[Mapping[int, grpc.StatusCode]] = {code.value[0]: code for code in grpc.StatusCode}


class StatusError(Exception):
    """A failed call: its `google.rpc.Status` and, for the gateway's own errors
    that have no gRPC equivalent (405, 413), the HTTP status that overrides the table."""

    def __init__(
        self,
        status: status_pb2.Status,
        *,
        http: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status.message)
        self.status = status
        self.http = HTTP_STATUS.get(self.code, 500) if http is None else http
        self.headers = dict(headers or {})

    @property
    def code(self) -> grpc.StatusCode:
        return CODES.get(self.status.code, grpc.StatusCode.UNKNOWN)

    @classmethod
    def of(
        cls,
        code: grpc.StatusCode,
        message: str,
        *,
        http: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> StatusError:
        return cls(
            status_pb2.Status(code=code.value[0], message=message), http=http, headers=headers
        )

    @classmethod
    def invalid(
        cls, violations: Sequence[errors.FieldViolation], *, http: int | None = None
    ) -> StatusError:
        """INVALID_ARGUMENT with a `google.rpc.BadRequest` naming each field."""
        return cls(errors.to_status(errors.InvalidArgument(violations)), http=http)


def body(status: status_pb2.Status) -> dict[str, Any]:
    """The JSON error body: `{"code", "message", "details"}`."""
    return {
        "code": status.code,
        "message": status.message,
        "details": [_detail(detail) for detail in status.details],
    }


def _detail(detail: any_pb2.Any) -> dict[str, Any]:
    try:
        return json_format.MessageToDict(detail, preserving_proto_field_name=True)
    except (TypeError, KeyError, json_format.Error):  # a type this process does not know
        return {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode()}
