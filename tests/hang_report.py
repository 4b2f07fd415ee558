"""What a hung test was waiting for: pytest-timeout's signal method, plus the stack
of every asyncio task of the running loop (a hang in asyncio code is a task that
awaits forever, and the main thread's stack only shows the selector).

A signal handler only runs when the main thread gets back to Python. If it does
not within `BACKSTOP` seconds more (stuck in C code, maybe holding the GIL),
faulthandler's own thread prints every thread's stack to the terminal and ends
the session: CI fails at once, with the place it was stuck, instead of running
into its time limit."""

from __future__ import annotations

import asyncio
import faulthandler
import io
import os
import signal
import sys
from typing import Any

import pytest

BACKSTOP = 60.0
HUNG = pytest.StashKey[bool]()
"""Set on a test that timed out: its teardown cancels the tasks it left behind."""


def _task_stacks() -> str:
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:  # no running loop: the hang is in synchronous code
        return "no running event loop\n"
    out = io.StringIO()
    for task in sorted(tasks, key=lambda t: t.get_name()):
        print(f"--- {task!r}", file=out)
        task.print_stack(limit=12, file=out)
    return out.getvalue()


def _terminal_fd(config: pytest.Config) -> int:
    """The real stderr: during a test, fd 2 goes to pytest's capture file, which
    nobody reads once the process exits."""
    capture = config.pluginmanager.getplugin("capturemanager")
    saved = getattr(
        getattr(getattr(capture, "_global_capturing", None), "err", None), "targetfd_save", None
    )
    return saved if isinstance(saved, int) else sys.__stderr__.fileno()  # type: ignore[union-attr]


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """Fail the test after `settings.timeout` seconds with the tasks' stacks."""
    if settings.method != "signal":
        return None

    def expired(signum: int, frame: Any) -> None:
        __tracebackhide__ = True
        item.stash[HUNG] = True
        stacks = _task_stacks()
        banner = f"\n+++ {item.nodeid}: timeout, asyncio tasks:\n"
        os.write(_terminal_fd(item.config), (banner + stacks).encode())  # even if retried
        pytest.fail(f"Timeout > {settings.timeout} s; asyncio tasks:\n{stacks}", pytrace=False)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        faulthandler.cancel_dump_traceback_later()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]
    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    faulthandler.dump_traceback_later(
        settings.timeout + BACKSTOP, exit=True, file=_terminal_fd(item.config)
    )
    return True
