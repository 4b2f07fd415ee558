"""The access log: one structured line per finished RPC (an observer of the chain)."""

from __future__ import annotations

import structlog

from krake_api.services.chain import Call

log = structlog.get_logger("krake.access")


def access_log(call: Call) -> None:
    log.info(
        "rpc",
        method=call.method,
        code=call.code.name,
        duration_ms=round(call.elapsed() * 1000, 3),
        messages=call.messages,
        user=call.caller.user,
        peer=call.peer,
        **({"error": call.error} if call.error else {}),
    )
