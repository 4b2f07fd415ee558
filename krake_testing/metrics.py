"""HTTP fakes of the metrics services the scheduler reads, for tests and demos.

Each is a real HTTP server on a free loopback port (aiohttp), holding metric
values that a test sets and changes, counting the requests it answers, and able
to fail like the real service (`unavailable = True`: HTTP 503, as a proxy in
front of a service that is down answers; `stop()`: connection refused).

- `FakePrometheus` models Prometheus' instant-query API, `GET|POST /api/v1/query`
  with `query=<PromQL>`: a bare metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) answers a
  `vector` of that metric's one series (empty when unknown), a number literal a
  `scalar`; values are strings as Prometheus writes them ("0.5", "NaN", "+Inf").
  Any other query, or none, is the error shape `{"status": "error",
  "errorType": "bad_data", "error": ...}` with HTTP 400. Not modelled: real PromQL,
  `time=`, range queries.
- `FakeKsql` models ksqlDB's `POST /query` for pull queries
  `SELECT <col> FROM <table> WHERE <col> = '<text>';` with identifiers plain
  (case-insensitive, upper-cased) or in backticks, and server-side variable
  substitution of `${name}` from the request's `sessionVariables`, as ksqlDB does.
  The answer is the JSON array `[{"header": ...}, {"row": {"columns": [...]}}...]`;
  errors are `{"@type": "statement_error", "error_code": 40001, "message": ...}`
  with HTTP 400. `statements` records what was asked (statement, variables).
- `FakeInflux` models InfluxDB 2's `POST /api/v2/query?org=<org>` with
  `Authorization: Token <token>` and a JSON body `{"query": <Flux>, "type":
  "flux"}`. It understands the Flux shape `from(bucket: "<b>") |> range(...) |>
  filter(fn: (r) => r._measurement == "<m>") |> last()` (string literals with
  `\\"`, `\\\\` and `\\${` escapes) and answers CSV: a header row
  `,result,table,_start,_stop,_time,_value,_field,_measurement` and one row, or an
  empty body when there is no point. Errors are JSON `{"code", "message"}`: 401 a
  wrong token, 404 an unknown org or bucket, 400 a query it cannot compile.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
NUMBER: Final = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
KSQL_MEDIA: Final = "application/vnd.ksql.v1+json"


def prometheus_number(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(value)


class FakeServer:
    """Start/stop an aiohttp application on a free loopback port."""

    def __init__(self) -> None:
        self.url = ""
        self.requests = 0
        self.unavailable = False
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @web.middleware
    async def _count(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests += 1
        if self.unavailable:
            return web.Response(status=503, text="Service Unavailable")
        return await handler(request)  # type: ignore[no-any-return]

    async def start(self) -> str:
        app = web.Application(middlewares=[self._count])
        self.routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class FakePrometheus(FakeServer):
    def __init__(self, values: dict[str, float] | None = None) -> None:
        super().__init__()
        self.values: dict[str, float] = dict(values or {})

    def routes(self, app: web.Application) -> None:
        app.router.add_route("GET", "/api/v1/query", self.query)
        app.router.add_route("POST", "/api/v1/query", self.query)

    @staticmethod
    def error(message: str) -> web.Response:
        body = {"status": "error", "errorType": "bad_data", "error": message}
        return web.json_response(body, status=400)

    async def query(self, request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else request.query
        text = str(form.get("query", "")).strip()
        now = datetime.now(UTC).timestamp()
        if not text:
            return self.error('invalid parameter "query": unknown query')
        if NUMBER.fullmatch(text):
            data: dict[str, Any] = {"resultType": "scalar", "result": [now, text]}
        elif METRIC_NAME.fullmatch(text):
            series = [
                {
                    "metric": {"__name__": text, "instance": "fake:9100", "job": "fake"},
                    "value": [now, prometheus_number(self.values[text])],
                }
                for _ in (1,)
                if text in self.values
            ]
            data = {"resultType": "vector", "result": series}
        else:
            return self.error(f'invalid parameter "query": 1:1: parse error: unexpected {text!r}')
        return web.json_response({"status": "success", "data": data})


KSQL_IDENT: Final = r"(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
KSQL_SELECT: Final = re.compile(
    rf"^\s*SELECT\s+{KSQL_IDENT}\s+FROM\s+{KSQL_IDENT}\s+WHERE\s+{KSQL_IDENT}\s*=\s*'((?:[^']|'')*)'\s*;\s*$",
    re.IGNORECASE,
)


def ksql_identifier(text: str) -> str:
    return text[1:-1] if text.startswith("`") else text.upper()


class FakeKsql(FakeServer):
    def __init__(self, tables: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, Any]]] = dict(tables or {})
        self.statements: list[tuple[str, dict[str, Any]]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/query", self.query)

    @staticmethod
    def error(message: str, code: int = 40001) -> web.Response:
        body = {"@type": "statement_error", "error_code": code, "message": message}
        return web.json_response(body, status=400, content_type=KSQL_MEDIA)

    @staticmethod
    def substitute(statement: str, variables: dict[str, Any]) -> str:
        lowered = {name.lower(): value for name, value in variables.items()}

        def value(found: re.Match[str]) -> str:
            name = found[1].lower()
            if name not in lowered:
                raise KeyError(found[1])
            return str(lowered[name])

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value, statement)

    async def query(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
            statement, variables = body["ksql"], dict(body.get("sessionVariables") or {})
        except (ValueError, KeyError, TypeError):
            return self.error("Invalid request: expected a JSON object with 'ksql'", 40000)
        self.statements.append((statement, variables))
        try:
            text = self.substitute(statement, variables)
        except KeyError as err:
            return self.error(f"Can't find variable {err.args[0]}")
        found = KSQL_SELECT.match(text)
        if found is None:
            return self.error(f"line 1:1: Syntax error at or near '{text[:20]}'")
        column, table, compared = (ksql_identifier(found[i]) for i in (1, 2, 3))
        wanted = found[4].replace("''", "'")
        if table not in self.tables:
            return self.error(f"{table} does not exist.")
        rows = [r for r in self.tables[table] if str(r.get(compared)) == wanted and column in r]
        result: list[dict[str, Any]] = [
            {"header": {"queryId": f"query_{self.requests}", "schema": f"`{column}` DOUBLE"}}
        ]
        result.extend({"row": {"columns": [r[column]]}} for r in rows)
        return web.json_response(result, content_type=KSQL_MEDIA)


FLUX_STRING: Final = r'"((?:[^"\\]|\\.)*)"'
FLUX_QUERY: Final = re.compile(
    rf"^\s*from\(bucket:\s*{FLUX_STRING}\)\s*\|>\s*range\([^)]*\)\s*"
    rf"\|>\s*filter\(fn:\s*\(r\)\s*=>\s*r\._measurement\s*==\s*{FLUX_STRING}\)\s*"
    r"\|>\s*last\(\)\s*$",
    re.DOTALL,
)
CSV_HEADER: Final = ",result,table,_start,_stop,_time,_value,_field,_measurement"


def flux_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: m[1], text)


class FakeInflux(FakeServer):
    def __init__(self, org: str, token: str, buckets: dict[str, dict[str, float]]) -> None:
        super().__init__()
        self.org, self.token = org, token
        self.buckets = buckets

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v2/query", self.query)

    @staticmethod
    def error(status: int, code: str, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message}, status=status)

    async def query(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Token {self.token}":
            return self.error(401, "unauthorized", "unauthorized access")
        if request.query.get("org") != self.org:
            org = request.query.get("org", "")
            return self.error(404, "not found", f'organization name "{org}" not found')
        try:
            flux = json.loads(await request.text())["query"]
        except (ValueError, KeyError, TypeError):
            return self.error(400, "invalid", "failed to decode request body")
        found = FLUX_QUERY.match(flux)
        if found is None:
            return self.error(400, "invalid", "compilation failed: error at @1:1: unsupported")
        bucket, measurement = flux_unescape(found[1]), flux_unescape(found[2])
        if bucket not in self.buckets:
            message = f'failed to initialize execute state: could not find bucket "{bucket}"'
            return self.error(404, "not found", message)
        if measurement not in self.buckets[bucket]:
            return web.Response(text="\r\n", content_type="text/csv")
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        value = self.buckets[bucket][measurement]
        row = f",_result,0,{now},{now},{now},{value!r},value,{measurement}"
        return web.Response(text=f"{CSV_HEADER}\r\n{row}\r\n\r\n", content_type="text/csv")
