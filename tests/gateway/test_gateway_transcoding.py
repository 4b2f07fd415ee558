"""Transcoding by the http rules, over HTTP, against the echo service's fake backend:
what the client sends is what the RPC receives (Echo returns its request)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from gateway_echo import BROKEN

from krake_api.gateway import rules
from krake_api.gateway.templates import Template, TemplateError


def violations(body: dict[str, Any]) -> dict[str, str]:
    """The BadRequest field violations of an error body, by field."""
    (detail,) = body["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    return {v["field"]: v["description"] for v in detail["field_violations"]}


async def test_query_parameters_set_nested_repeated_and_typed_fields(
    http: aiohttp.ClientSession, echo: str
) -> None:
    query = (
        "inner.tags=a&inner.tags=b%20c&inner.deepValue=5&inner.level=HIGH&numbers=1&numbers=-2"
        "&flag=true&at=2020-01-02T03:04:05Z&ratio=0.5&pageSize=3"
    )
    async with http.get(f"{echo}/v1/echo/abc?{query}") as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        body = await response.json()
    assert body == {
        "name": "abc",
        "inner": {"tags": ["a", "b c"], "deep_value": 5, "level": "HIGH"},
        "numbers": ["1", "-2"],
        "flag": True,
        "at": "2020-01-02T03:04:05Z",
        "ratio": 0.5,
        "page_size": 3,
    }


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("nope=1", "nope", "unknown"),
        ("inner=x", "inner", "message"),
        ("inner.labels.a=x", "inner.labels.a", "query parameter"),
        ("page_size=1&pageSize=2", "page_size", "more than once"),
        ("page_size=many", "page_size", "int"),
        ("inner.level=MEDIUM", "inner.level", "enum"),
        ("name=other", "name", "URL path"),
        ("watch", "watch", "unknown"),  # Echo has no streaming twin on /v1/fail
    ],
)
async def test_bad_query_parameters_are_named(
    http: aiohttp.ClientSession, echo: str, query: str, field: str, words: str
) -> None:
    path = "/v1/fail/NOT_FOUND" if field == "watch" else "/v1/echo/abc"
    async with http.get(f"{echo}{path}?{query}") as response:
        assert response.status == 400
        body = await response.json()
    assert body["code"] == 3
    problems = violations(body)
    assert list(problems) == [field]
    assert words.lower() in problems[field].lower()


async def test_body_star_takes_the_whole_request_and_the_path(
    http: aiohttp.ClientSession, echo: str
) -> None:
    sent = {
        "inner": {"deepValue": 7, "labels": {"k": "v"}},
        "manifest": {"replicas": 1, "x": [2.5]},
    }
    async with http.post(f"{echo}/v1/echo/abc:shout", json=sent) as response:
        assert response.status == 200, await response.text()
        text = await response.text()
    assert '"replicas": 1,' in text or '"replicas": 1}' in text  # a whole number, not 1.0
    assert await response.json() == {
        "name": "abc",
        "inner": {"deep_value": 7, "labels": {"k": "v"}},
        "manifest": {"replicas": 1, "x": [2.5]},
    }


async def test_body_star_refuses_query_parameters_and_a_different_name(
    http: aiohttp.ClientSession, echo: str
) -> None:
    async with http.post(f"{echo}/v1/echo/abc:shout?flag=true", json={}) as response:
        assert response.status == 400
        assert "flag" in violations(await response.json())
    async with http.post(f"{echo}/v1/echo/abc:shout", json={"name": "xyz"}) as response:
        assert response.status == 400
        assert "URL" in violations(await response.json())["name"]


async def test_a_field_body_fills_that_field_and_the_query_the_rest(
    http: aiohttp.ClientSession, echo: str
) -> None:
    url = f"{echo}/v1/echo/abc/inner?flag=1"
    async with http.put(url, json={"tags": ["x"], "level": "LOW"}) as response:
        assert response.status == 200, await response.text()
        assert await response.json() == {
            "name": "abc",
            "inner": {"tags": ["x"], "level": "LOW"},
            "flag": True,
        }
    async with http.put(f"{echo}/v1/echo/abc/inner?inner.tags=y", json={}) as response:
        assert response.status == 400
        assert "request body" in violations(await response.json())["inner.tags"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b'{"tags": ["x"', "<body>", "invalid JSON"),
        (b'{"tagz": []}', "tagz", "unknown field"),
        (b'{"labels": {"k": "v"}, "level": {"x": 1}}', "level", "one of LEVEL_UNSPECIFIED, LOW"),
        (b'{"labels": {"k": 1}}', "labels[k]", "a string"),
        (b'{"deepValue": true}', "deepValue", "an integer"),
        (b'{"tags": "x"}', "tags", "JSON array"),
        (b"[1, 2]", "<body>", "JSON object"),
        (b"\xff\xfe", "<body>", "invalid JSON"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    http: aiohttp.ClientSession, echo: str, body: bytes, field: str, words: str
) -> None:
    headers = {"Content-Type": "application/json"}
    async with http.put(f"{echo}/v1/echo/abc/inner", data=body, headers=headers) as response:
        assert response.status == 400
        problems = violations(await response.json())
    assert field in problems, problems
    assert words.lower() in problems[field].lower()


async def test_a_method_without_body_refuses_one(http: aiohttp.ClientSession, echo: str) -> None:
    async with http.get(f"{echo}/v1/echo/abc", data=b'{"name": "x"}') as response:
        assert response.status == 400
        assert "no request body" in violations(await response.json())["<body>"]


async def test_additional_bindings_with_multi_segment_variables(
    http: aiohttp.ClientSession, echo: str
) -> None:
    async with http.get(f"{echo}/v1/files/dirs/d1/a/b%2Fc/e") as response:
        assert response.status == 200, await response.text()
        assert await response.json() == {"parent": "dirs/d1", "name": "a/b%2Fc/e"}
    async with http.get(f"{echo}/v1/echo/a%2Fb%20c") as response:  # one segment: decoded
        assert (await response.json())["name"] == "a/b c"
    async with http.get(f"{echo}/v1/files/other/d1/x") as response:
        assert response.status == 404


async def test_response_body_selects_a_field(http: aiohttp.ClientSession, echo: str) -> None:
    async with http.get(f"{echo}/v1/inner/abc?inner.deep_value=3") as response:
        assert response.status == 200
        assert await response.json() == {"deep_value": 3}


def test_a_rule_naming_a_missing_field_fails_at_start_up() -> None:
    with pytest.raises(rules.InvalidRule, match="nope"):
        rules.routes([BROKEN])


@pytest.mark.parametrize(
    "source", ["v1/x", "/v1/{name", "/v1/**/x", "/v1/{a-b}", "/v1//x", "/v1/x:", "/v1/{a={b}}"]
)
def test_bad_templates_are_refused(source: str) -> None:
    with pytest.raises(TemplateError):
        Template.parse(source)


@pytest.mark.parametrize(
    ("source", "path", "expected"),
    [
        ("/v1/{name}", "/v1/a", {"name": "a"}),
        ("/v1/{name}", "/v1/a/b", None),
        ("/v1/{name}", "/v1/", None),
        ("/v1/{name=shelves/*/books/*}", "/v1/shelves/s/books/b", {"name": "shelves/s/books/b"}),
        ("/v1/{name=**}:undo", "/v1/a/b:undo", {"name": "a/b"}),
        ("/v1/{name=**}:undo", "/v1/a/b", None),
        ("/v1/*/{x.y}", "/v1/any/z", {"x.y": "z"}),
    ],
)
def test_templates_match_paths(source: str, path: str, expected: dict[str, str] | None) -> None:
    assert Template.parse(source).match(path) == expected
