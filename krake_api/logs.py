"""Structured logs: one JSON object per line on stderr (or a console format for people).

Every line has `timestamp` (RFC 3339, UTC), `level` and `event`, plus whatever the
context bound: within an RPC, its `request_id` (krake_api/services/chain.py).
"""

from __future__ import annotations

import logging
import sys
from typing import Final

import structlog

FORMATS: Final = ("json", "console")
LEVELS: Final = ("debug", "info", "warning", "error")


def configure(level: str = "info", fmt: str = "json") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
