"""`ApiProcess`: a real `krake-api` process for tests and demos, restartable on the
same ports and storage (to test clients across a server crash)."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Final

LISTENING: Final = re.compile(r"gRPC on (\S+), HTTP on (\S+),")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ApiProcess:
    def __init__(self, storage: str, *, bookmark_interval: float = 10.0) -> None:
        self.storage = storage
        self.grpc = f"127.0.0.1:{free_port()}"
        self.http = f"127.0.0.1:{free_port()}"
        self.bookmark_interval = bookmark_interval
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and return once it listens."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKE_")}
        command = [
            *(sys.executable, "-m", "krake_api", "--storage", self.storage),
            *("--grpc-address", self.grpc, "--http-address", self.http),
            *("--bookmark-interval", str(self.bookmark_interval), "--log-level", "warning"),
        ]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.process.stdout], [], [], left)[0]:
                break
            line = self.process.stdout.readline().decode()
            if LISTENING.search(line):
                return
            if not line and self.process.poll() is not None:
                break
        self.kill()
        raise RuntimeError(f"krake-api did not start on {self.grpc} within {timeout} s")

    def kill(self) -> None:
        """SIGKILL: a crash, nothing drained or released."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: the graceful drain; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def __enter__(self) -> ApiProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.kill()
