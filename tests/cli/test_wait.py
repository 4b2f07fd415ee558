"""`--wait`: a krakectl process blocks until the status update the test makes (through
the typed client, as a controller would) brings the object to the state."""

from __future__ import annotations

import asyncio
import io
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import yaml

from krake.kubernetes.v1 import kubernetes_pb2
from krake_api.registry import KINDS
from krake_cli.progress import Progress
from krake_controllers.runtime.client import Client, KindClient, connect
from krake_testing.examples import SPECS, example

from .conftest import Cli

NAMESPACE = "waits"
DEADLINE = 30.0
State = kubernetes_pb2.Application.Status.State


@pytest.fixture
async def apps(cli: Cli) -> AsyncIterator[KindClient]:
    async with connect(cli.api) as channel:
        yield Client(channel).kind(KINDS["Application"])


@pytest.fixture
def manifest(tmp_path: pathlib.Path) -> str:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump_all(SPECS["Application"][0]["manifest"]))
    return str(path)


async def eventually(read: Callable[[], Awaitable[Any]]) -> Any:
    """`read()`'s result once it stops failing; fails after DEADLINE seconds."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while True:
        try:
            return await read()
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.05)


def shown_in(text: str) -> Callable[[str], bool]:
    def wanted(line: str) -> bool:
        return line.endswith(text)

    return wanted


async def set_state(apps: KindClient, name: str, state: int, observed: int) -> None:
    app = await apps.get(NAMESPACE, name)
    app.status.state = state
    app.status.observed_generation = observed
    await apps.update_status(app)


async def test_wait_returns_when_the_status_reaches_the_state(
    cli: Cli, apps: KindClient, manifest: str
) -> None:
    waiting = cli.process(
        "kube",
        "app",
        "create",
        "waited",
        "-f",
        manifest,
        "-n",
        NAMESPACE,
        "--wait",
        "--timeout",
        "60",
    )
    try:
        await eventually(lambda: apps.get(NAMESPACE, "waited"))
        for state, observed in ((State.PENDING, 0), (State.RUNNING, 0), (State.DEGRADED, 1)):
            await set_state(apps, "waited", state, observed)
            shown = f": {State.Name(state)}"
            waiting.expect(shown_in(shown), stream="stderr")
        # RUNNING for an older generation did not end the wait (DEGRADED was still seen)
        assert waiting.process.poll() is None
        await set_state(apps, "waited", State.RUNNING, 1)
        code, out, err = waiting.finish()
        assert (code, out) == (0, "application/waited created\n"), err
        assert "\x1b" not in err  # no escape codes when stderr is not a terminal
    finally:
        waiting.stop()


async def test_delete_wait_returns_when_the_last_finalizer_goes(cli: Cli, apps: KindClient) -> None:
    held = example(KINDS["Application"], name="held", namespace=NAMESPACE)
    held.metadata.finalizers.append("test/hold")  # type: ignore[attr-defined]
    await apps.create(held)
    waiting = cli.process("kube", "app", "delete", "held", "-n", NAMESPACE, "--wait")
    try:
        waiting.expect(lambda line: "to be deleted" in line, stream="stderr")
        current = await apps.get(NAMESPACE, "held")
        assert current.metadata.HasField("deleted")
        del current.metadata.finalizers[:]
        await apps.update(current)
        code, out, err = waiting.finish()
        assert (code, out) == (0, "application/held deleted\n"), err
    finally:
        waiting.stop()


def test_wait_gives_up_at_the_timeout(cli: Cli, manifest: str) -> None:
    result = cli(
        "kube",
        "app",
        "create",
        "stuck",
        "-f",
        manifest,
        "-n",
        NAMESPACE,
        "--wait=running",
        "--timeout",
        "0.3",
    )
    assert result.exit_code == 1
    assert result.stderr.endswith(
        'Error: timed out after 0.3s waiting for Application "stuck" to be RUNNING\n'
    )
    assert cli.ok("get", "app", "stuck", "-n", NAMESPACE, "-o", "name") == "application/stuck\n"


def test_an_unknown_state_is_a_usage_error_before_anything_is_sent(cli: Cli, manifest: str) -> None:
    result = cli(
        "kube", "app", "create", "never", "-f", manifest, "-n", NAMESPACE, "--wait=SLEEPING"
    )
    assert result.exit_code == 2
    assert "'SLEEPING' is not a state; states: PENDING, CREATING, RUNNING" in result.stderr
    assert cli("get", "app", "never", "-n", NAMESPACE).exit_code == 1
    lease = cli("core", "lease", "create", "l", "-n", NAMESPACE, "--wait=RUNNING")
    assert lease.exit_code == 2 and "a Lease has no state" in lease.stderr


async def test_progress_draws_in_place_on_a_terminal_only() -> None:
    for tty, escapes in ((True, True), (False, False)):
        stream = io.StringIO()
        progress = Progress(stream, tty=tty)
        async with progress.running():
            progress.show("waiting: PENDING")
            progress.show("waiting: PENDING")  # the same text is not written again
            progress.show("waiting: RUNNING")
        written = stream.getvalue()
        assert ("\x1b[K" in written) is escapes
        if not tty:
            assert written == "waiting: PENDING\nwaiting: RUNNING\n"
        else:
            assert written.endswith("\r\x1b[K")  # erased at the end
