"""The handwritten commands: where flags are an easier way to write an object than
a file. One table says which kind gets which; a command named like a generic verb
(`create`) replaces it, any other (`register`) is added beside the generic verbs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

import click

from krake_api.registry import Kind
from krake_cli.special import applications, clusters, infrastructure, metrics, roles

Factory = Callable[[Kind], click.Command]

COMMANDS: Final[Mapping[str, Sequence[Factory]]] = {
    "Application": (applications.create_command, applications.update_command),
    "Cluster": (clusters.register_command,),
    "Metric": (metrics.metric_command,),
    "GlobalMetric": (metrics.metric_command,),
    "MetricsProvider": (metrics.provider_command,),
    "GlobalMetricsProvider": (metrics.provider_command,),
    "Cloud": (infrastructure.cloud_command,),
    "GlobalCloud": (infrastructure.cloud_command,),
    "InfrastructureProvider": (infrastructure.provider_command,),
    "GlobalInfrastructureProvider": (infrastructure.provider_command,),
    "Role": (roles.role_command,),
    "RoleBinding": (roles.binding_command,),
}
