"""Errors: one line on stderr, exit code 1 (usage: 2), no traceback unless --debug,
and an unreachable API named within 5 seconds."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from krake_cli import main, reads, session

from .conftest import Cli


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_unreachable_api_is_named_at_once(cli: Cli, closed_port: int) -> None:
    address = f"127.0.0.1:{closed_port}"
    started = time.monotonic()
    result = cli("--api", address, "get", "apps", api=False)
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach the Krake API at {address}: ")
    assert "Connection refused" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_api_that_never_answers_is_named_within_the_connect_timeout(
    cli: Cli, silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert session.CONNECT_TIMEOUT < 5
    monkeypatch.setattr(session, "CONNECT_TIMEOUT", 0.3)  # test-sized
    address = f"127.0.0.1:{silent_port}"
    result = cli("--api", address, "core", "role", "list", api=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach the Krake API at {address}: no answer")


def test_unreachable_api_as_a_process_prints_no_traceback(cli: Cli, closed_port: int) -> None:
    address = f"127.0.0.1:{closed_port}"
    running = cli.process("--api", address, "kube", "cluster", "list", api=False)
    try:
        code, out, err = running.finish()
    finally:
        running.stop()
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: cannot reach the Krake API at {address}")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_server_field_violations_are_listed(cli: Cli) -> None:
    result = cli("core", "role", "create", "Not_A_Name", "--rule", "kubernetes:applications:get")
    assert result.exit_code == 1
    head, *violations = result.stderr.splitlines()
    assert head == 'Error: Role "Not_A_Name" is invalid:'
    assert violations and all(line.startswith("  - metadata.name: ") for line in violations)


def test_usage_errors_exit_2(cli: Cli) -> None:
    missing = cli("kube", "app", "get")
    assert missing.exit_code == 2 and "Missing argument 'NAMES...'" in missing.stderr
    bad_output = cli("get", "apps", "-o", "xml")
    assert bad_output.exit_code == 2
    malformed = cli("core", "role", "create", "r", "--rule", "just-one-part")
    assert malformed.exit_code == 2 and "is not API:RESOURCES:VERBS" in malformed.stderr


def test_a_bug_is_one_line_unless_debug(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(reads, "read", broken)
    result = cli("get", "apps")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: RuntimeError: boom (--debug shows where)\n",
    )
    debugged = CliRunner().invoke(
        main.cli, ["--debug", "--api", cli.api, "get", "apps"], env=cli.env()
    )
    assert isinstance(debugged.exception, RuntimeError)
