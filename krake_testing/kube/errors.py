"""API errors and THE table from a Kubernetes `reason` to its HTTP code.

Every failure leaves the server as a `Status` object (`kind: Status`, `status: Failure`)
built by `status_of`, the shape the official clients parse into `ApiException`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

HTTP_CODE: Final[Mapping[str, int]] = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "NotAcceptable": 406,
    "AlreadyExists": 409,
    "Conflict": 409,
    "Expired": 410,
    "Gone": 410,
    "RequestEntityTooLarge": 413,
    "UnsupportedMediaType": 415,
    "Invalid": 422,
    "InternalError": 500,
    "ServiceUnavailable": 503,
}

REASON: Final[Mapping[int, str]] = {
    code: reason for reason, code in HTTP_CODE.items()
}  # later rows win


class ApiError(Exception):
    """A request the API refuses; `reason` selects the HTTP code from `HTTP_CODE`."""

    reason = "InternalError"

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})

    @property
    def code(self) -> int:
        return HTTP_CODE[self.reason]


class BadRequest(ApiError):
    reason = "BadRequest"


class Unauthorized(ApiError):
    reason = "Unauthorized"


class Forbidden(ApiError):
    reason = "Forbidden"


class NotFound(ApiError):
    reason = "NotFound"


class MethodNotAllowed(ApiError):
    reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    reason = "AlreadyExists"


class Conflict(ApiError):
    reason = "Conflict"


class Expired(ApiError):
    reason = "Expired"


class UnsupportedMediaType(ApiError):
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    reason = "Invalid"


def status_of(error: ApiError) -> dict[str, Any]:
    """The `Status` body Kubernetes sends for `error`."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message,
        "reason": error.reason,
        "code": error.code,
    }
    if error.details:
        body["details"] = error.details
    return body


def success(details: Mapping[str, Any]) -> dict[str, Any]:
    """The `Status` a DELETE answers with when it returns no object."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": dict(details),
    }
