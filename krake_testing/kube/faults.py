"""Failures tests inject into the simulation (the API itself is made unreachable by
the server, see `server.ClusterServer.unreachable`).

A crash loop targets an object by (kind, namespace, name): a Pod, or any owner up its
controller chain (Deployment -> ReplicaSet -> Pod, StatefulSet, DaemonSet, Job), so
every pod it runs, including replacements, crash-loops until the target is healed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Target = tuple[str, str, str]  # (kind, namespace, name); namespace "" if cluster-scoped


@dataclass
class Faults:
    crash_loops: set[Target] = field(default_factory=set)

    def crash_looping(self, chain: Iterable[Target]) -> bool:
        """Whether a pod with this controller chain (itself first) is crash-looping."""
        return any(link in self.crash_loops for link in chain)
