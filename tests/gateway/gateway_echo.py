"""A test-only service whose http rules use what Krake's own protos do not (nested and
repeated query parameters, `body: "*"`, multi-segment variables, a custom verb,
`response_body`), and a fake backend for it that echoes requests back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, Final

import grpc
from google.api import annotations_pb2  # noqa: F401  (registers the google.api.http option)
from google.protobuf import descriptor_pb2, descriptor_pool, struct_pb2, text_format, timestamp_pb2
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from krake_api.gateway import StatusError

_ = (struct_pb2, timestamp_pb2)  # their files must be in the pool before ours

FILE: Final = """
name: "gatewaytest/v1/echo.proto"
package: "gatewaytest.v1"
syntax: "proto3"
dependency: "google/api/annotations.proto"
dependency: "google/protobuf/timestamp.proto"
dependency: "google/protobuf/struct.proto"
enum_type {
  name: "Level"
  value { name: "LEVEL_UNSPECIFIED" number: 0 }
  value { name: "LOW" number: 1 }
  value { name: "HIGH" number: 2 }
}
message_type {
  name: "Inner"
  field { name: "tags" number: 1 label: LABEL_REPEATED type: TYPE_STRING json_name: "tags" }
  field { name: "deep_value" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32
          json_name: "deepValue" }
  field { name: "level" number: 3 label: LABEL_OPTIONAL type: TYPE_ENUM
          type_name: ".gatewaytest.v1.Level" json_name: "level" }
  field { name: "labels" number: 4 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".gatewaytest.v1.Inner.LabelsEntry" json_name: "labels" }
  nested_type {
    name: "LabelsEntry"
    field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "key" }
    field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "value" }
    options { map_entry: true }
  }
}
message_type {
  name: "EchoRequest"
  field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "name" }
  field { name: "parent" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "parent" }
  field { name: "inner" number: 3 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".gatewaytest.v1.Inner" json_name: "inner" }
  field { name: "numbers" number: 4 label: LABEL_REPEATED type: TYPE_INT64 json_name: "numbers" }
  field { name: "flag" number: 5 label: LABEL_OPTIONAL type: TYPE_BOOL json_name: "flag" }
  field { name: "at" number: 6 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".google.protobuf.Timestamp" json_name: "at" }
  field { name: "manifest" number: 7 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".google.protobuf.Struct" json_name: "manifest" }
  field { name: "ratio" number: 8 label: LABEL_OPTIONAL type: TYPE_DOUBLE json_name: "ratio" }
  field { name: "page_size" number: 9 label: LABEL_OPTIONAL type: TYPE_INT32
          json_name: "pageSize" }
  field { name: "items" number: 10 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".gatewaytest.v1.Inner" json_name: "items" }
}
service {
  name: "EchoService"
  method {
    name: "Echo" input_type: ".gatewaytest.v1.EchoRequest"
    output_type: ".gatewaytest.v1.EchoRequest"
    options { [google.api.http] {
      get: "/v1/echo/{name}"
      additional_bindings { post: "/v1/echo/{name}:shout" body: "*" }
      additional_bindings { put: "/v1/echo/{name}/inner" body: "inner" }
      additional_bindings { get: "/v1/files/{parent=dirs/*}/{name=**}" }
    } }
  }
  method {
    name: "EchoStream" input_type: ".gatewaytest.v1.EchoRequest"
    output_type: ".gatewaytest.v1.EchoRequest" server_streaming: true
    options { [google.api.http] { get: "/v1/echo/{name}" } }
  }
  method {
    name: "EchoInner" input_type: ".gatewaytest.v1.EchoRequest"
    output_type: ".gatewaytest.v1.EchoRequest"
    options { [google.api.http] { get: "/v1/inner/{name}" response_body: "inner" } }
  }
  method {
    name: "Fail" input_type: ".gatewaytest.v1.EchoRequest"
    output_type: ".gatewaytest.v1.EchoRequest"
    options { [google.api.http] { get: "/v1/fail/{name}" } }
  }
}
service {
  name: "BrokenService"
  method {
    name: "Broken" input_type: ".gatewaytest.v1.EchoRequest"
    output_type: ".gatewaytest.v1.EchoRequest"
    options { [google.api.http] { get: "/v1/broken/{nope}" } }
  }
}
"""


def _load() -> Any:
    pool = descriptor_pool.Default()
    try:
        return pool.FindFileByName("gatewaytest/v1/echo.proto")
    except KeyError:
        proto = text_format.Parse(FILE, descriptor_pb2.FileDescriptorProto())
        pool.Add(proto)
        return pool.FindFileByName("gatewaytest/v1/echo.proto")


ECHO: Final[ServiceDescriptor] = _load().services_by_name["EchoService"]
BROKEN: Final[ServiceDescriptor] = _load().services_by_name["BrokenService"]


def failure(code: grpc.StatusCode) -> StatusError:
    """The error the fake backend raises for `code`: INVALID_ARGUMENT with a BadRequest."""
    status = status_pb2.Status(code=code.value[0], message=f"failed with {code.name}")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        violation = error_details_pb2.BadRequest.FieldViolation(field="name", description="bad")
        status.details.add().Pack(error_details_pb2.BadRequest(field_violations=[violation]))
    return StatusError(status)


class RecordingBackend:
    """Records every call and fails it UNAVAILABLE: for what must never reach the API."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def unary(self, rpc: str, request: Message) -> Message:
        self.calls.append(rpc)
        raise failure(grpc.StatusCode.UNAVAILABLE)

    async def stream(self, rpc: str, request: Message) -> AsyncGenerator[Message, None]:
        self.calls.append(rpc)
        raise failure(grpc.StatusCode.UNAVAILABLE)
        yield request  # an async generator, like every backend's stream


class EchoBackend:
    """Echo returns its request; Fail fails with the code named by `name`;
    EchoStream sends its request `page_size` times, then fails (name "broken"),
    ends (name "end") or waits for the client to go (recording it in `closed`)."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.open_streams = 0

    async def unary(self, rpc: str, request: Message) -> Message:
        if rpc.endswith("/Fail"):
            raise failure(grpc.StatusCode[request.name])  # type: ignore[attr-defined]
        return request

    async def stream(self, rpc: str, request: Any) -> AsyncGenerator[Message, None]:
        self.open_streams += 1
        try:
            for _ in range(request.page_size):
                yield request
            if request.name == "broken":
                raise failure(grpc.StatusCode.UNAVAILABLE)
            if request.name != "end":
                await asyncio.Event().wait()
        finally:
            self.open_streams -= 1
            self.closed.set()
