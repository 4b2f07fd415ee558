"""One table maps every API error to its gRPC code; field violations travel as BadRequest."""

from __future__ import annotations

import grpc
from google.rpc import code_pb2, error_details_pb2

from krake_api import errors


def test_every_error_class_has_a_code_and_subclasses_inherit_it() -> None:
    classes = {c for c in vars(errors).values() if isinstance(c, type)}
    api_errors = {c for c in classes if issubclass(c, errors.KrakeError)} - {errors.KrakeError}
    assert api_errors == set(errors.GRPC_CODE)

    class Conflict(errors.StaleResourceVersion):
        pass

    assert errors.grpc_code(Conflict("x")) is grpc.StatusCode.ABORTED
    assert errors.grpc_code(errors.WatchTooOld("x")) is grpc.StatusCode.OUT_OF_RANGE


def test_invalid_argument_becomes_a_status_with_field_violations() -> None:
    err = errors.InvalidArgument(
        [
            errors.FieldViolation("metadata.name", "must be a DNS-1123 subdomain"),
            errors.FieldViolation("spec.manifest", "must not be empty"),
        ]
    )
    status = errors.to_status(err)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert "metadata.name: must be a DNS-1123 subdomain" in status.message
    (detail,) = status.details
    bad = error_details_pb2.BadRequest()
    assert detail.Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("metadata.name", "must be a DNS-1123 subdomain"),
        ("spec.manifest", "must not be empty"),
    ]


def test_other_errors_carry_no_details() -> None:
    status = errors.to_status(errors.NotFound("Application 'web' not found"))
    assert (status.code, status.message, len(status.details)) == (
        code_pb2.NOT_FOUND,
        "Application 'web' not found",
        0,
    )


def test_many_violations_are_capped_to_fit_grpc_metadata() -> None:
    violations = [errors.FieldViolation(f"spec.items[{i}]", "x" * 1000) for i in range(500)]
    status = errors.to_status(errors.InvalidArgument(violations))
    assert len(status.SerializeToString()) < 6 * 1024
    detail = error_details_pb2.BadRequest()
    status.details[0].Unpack(detail)
    assert len(detail.field_violations) == errors.InvalidArgument.MAX_VIOLATIONS + 1
    assert detail.field_violations[-1].description == "and 480 more violations not listed"
    assert "(and 497 more)" in status.message
