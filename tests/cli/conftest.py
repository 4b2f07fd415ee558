"""A real `krake-api` process on the embedded sqlite store, once per test module, and
ways to run krakectl against it: in-process (click's CliRunner) and as a process.

Every run gets `--api` and a `KRAKECONFIG` of its own, so no user configuration
leaks in.
"""

from __future__ import annotations

import os
import pathlib
import queue
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from google.protobuf.message import Message

from krake_api import structs
from krake_api.registry import KINDS, Kind
from krake_cli import main

STARTUP = 30.0
PROCESS_DEADLINE = 30.0  # generous: a loaded CI machine starts Python slowly
LISTENING = re.compile(r"gRPC on (\S+), HTTP on")


def read_line(stream: Any, deadline: float) -> str:
    """One line of a process's pipe, or an assertion error at `deadline`."""
    remaining = deadline - time.monotonic()
    ready, _, _ = select.select([stream], [], [], max(remaining, 0))
    assert ready, "no output before the deadline"
    return str(stream.readline().decode())


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gRPC address of a krake-api process serving a fresh sqlite file."""
    folder = tmp_path_factory.mktemp("krake-api")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKE")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "krake_api",
            "--storage",
            f"sqlite:///{folder}/krake.db",
            "--grpc-address",
            "127.0.0.1:0",
            "--http-address",
            "127.0.0.1:0",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        line = read_line(process.stdout, time.monotonic() + STARTUP)
        found = LISTENING.search(line)
        assert found, f"krake-api said {line!r}"
        yield found[1]
    finally:
        process.kill()
        process.wait()


@dataclass
class Cli:
    """krakectl against the test API, with its own (initially absent) config file."""

    api: str
    config: pathlib.Path

    def env(self) -> dict[str, str]:
        return {"KRAKECONFIG": str(self.config)}

    def __call__(self, *args: str, input: str | None = None, api: bool = True) -> Result:
        """Run in-process; exceptions other than exits fail the test."""
        prefix = ["--api", self.api] if api else []
        result = CliRunner().invoke(main.cli, [*prefix, *args], input=input, env=self.env())
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str, input: str | None = None) -> str:
        """Stdout of a run that must succeed."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    def process(self, *args: str, api: bool = True, env: dict[str, str] | None = None) -> Running:
        """Run as a process, its output lines read as they come."""
        prefix = ["--api", self.api] if api else []
        started = subprocess.Popen(
            [sys.executable, "-m", "krake_cli", *prefix, *args],
            env={**os.environ, **self.env(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return Running(started)


def drain(lines: queue.Queue[str]) -> str:
    found = []
    while not lines.empty():
        found.append(lines.get() + "\n")
    return "".join(found)


class Running:
    """A krakectl process whose stdout lines are collected by a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.streams = {"stdout": process.stdout, "stderr": process.stderr}
        self.lines: dict[str, queue.Queue[str]] = {name: queue.Queue() for name in self.streams}
        self.seen: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(name,), daemon=True) for name in self.streams
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, name: str) -> None:
        for line in self.streams[name] or ():
            self.lines[name].put(line.rstrip("\n"))

    def expect(
        self,
        wanted: Callable[[str], bool],
        *,
        stream: str = "stdout",
        timeout: float = PROCESS_DEADLINE,
    ) -> str:
        """The first line (from now) of `stream` that `wanted` accepts; fails at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no such line; got {self.seen}"
            try:
                line = self.lines[stream].get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if wanted(line):
                return line

    def finish(self, timeout: float = PROCESS_DEADLINE) -> tuple[int, str, str]:
        """Exit code, and the rest of stdout and of stderr, once the process ends."""
        code = self.process.wait(timeout)
        rest = []
        for reader, lines in zip(self.readers, self.lines.values(), strict=True):
            reader.join(timeout)  # it ends with the pipe
            rest.append(drain(lines))
        return code, rest[0], rest[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def cli(api: str, tmp_path: pathlib.Path) -> Cli:
    return Cli(api, tmp_path / "krake" / "config.yaml")


def document(obj: Message) -> dict[str, Any]:
    """The object as a file holds it: with its `api` and `kind`."""
    kind = KINDS[obj.DESCRIPTOR.name]
    return {"api": kind.group, "kind": kind.name, **structs.to_data(obj)}


@pytest.fixture
def write_yaml(tmp_path: pathlib.Path) -> Callable[..., str]:
    """Write objects (messages or dicts) as one multi-document YAML file."""

    def write(*objects: Message | dict[str, Any], name: str = "objects.yaml") -> str:
        path = tmp_path / name
        data = [document(o) if isinstance(o, Message) else o for o in objects]
        path.write_text(yaml.safe_dump_all(data, sort_keys=False))
        return str(path)

    return write


def kind_words(kind: Kind) -> list[str]:
    """The command path of a kind: `["kubernetes", "application"]`."""
    return [kind.group, kind.name.lower()]
