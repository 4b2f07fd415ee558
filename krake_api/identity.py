"""Who is calling: the identity every verb receives.

Authentication interceptors (krake_api/services/chain.py) turn a request's
credentials into a `Caller`; verbs take it as a value so that authorization,
audit logs and admission can use it without reaching back into the transport.
Until authentication exists every remote caller is `ANONYMOUS`; code inside the
server that acts on its own behalf uses `SYSTEM`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Caller:
    user: str
    groups: tuple[str, ...] = ()


ANONYMOUS: Final = Caller("system:anonymous", ("system:unauthenticated",))
SYSTEM: Final = Caller("system:krake-api", ("system:masters",))
