"""A progress line on stderr while a command waits.

On a terminal the line is redrawn in place with a spinner and the seconds waited,
and erased at the end. Anywhere else (a pipe, a CI log) there are no escape codes:
one plain line each time the text changes.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, TextIO

FRAMES: Final = "|/-\\"
TICK: Final = 0.1
CLEAR: Final = "\r\x1b[K"


class Progress:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.text = ""
        self.started = time.monotonic()
        self.frame = 0

    def show(self, text: str) -> None:
        """Make `text` the line's text."""
        if text == self.text:
            return
        self.text = text
        if self.tty:
            self.draw()
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def draw(self) -> None:
        waited = time.monotonic() - self.started
        spinner = FRAMES[self.frame % len(FRAMES)]
        self.stream.write(f"{CLEAR}{spinner} {self.text} ({waited:.0f}s)")
        self.stream.flush()
        self.frame += 1

    def clear(self) -> None:
        if self.tty and self.text:
            self.stream.write(CLEAR)
            self.stream.flush()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Progress]:
        """The progress line, redrawn every `TICK` on a terminal, erased at the end."""
        spinner = asyncio.create_task(self.spin()) if self.tty else None
        try:
            yield self
        finally:
            if spinner is not None:
                spinner.cancel()
                await asyncio.gather(spinner, return_exceptions=True)
            self.clear()

    async def spin(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            if self.text:
                self.draw()
