"""Nodes: what a fresh kubelet registers, and condition changes tests inject.

A node reports Ready=True and MemoryPressure/DiskPressure/PIDPressure=False with the
kubelet's reasons and messages, 4 CPUs, 8 GiB and 110 pods of capacity, an InternalIP
(the cluster's listening host) and nodeInfo for the fake's Kubernetes version. Nothing
heartbeats: a condition changes only when a test sets it, so node watches stay quiet.
Not modelled: taints derived from conditions, leases, eviction.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Final

from krake_testing.kube import discovery, meta
from krake_testing.kube.store import Object

# type -> the healthy status, and (reason, message) per status value.
CONDITIONS: Final[Mapping[str, tuple[str, Mapping[str, tuple[str, str]]]]] = {
    "Ready": ("True", {
        "True": ("KubeletReady", "kubelet is posting ready status"),
        "False": ("KubeletNotReady", "container runtime network not ready"),
    }),
    "MemoryPressure": ("False", {
        "False": ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        "True": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    }),
    "DiskPressure": ("False", {
        "False": ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        "True": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    }),
    "PIDPressure": ("False", {
        "False": ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        "True": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    }),
}  # fmt: skip
UNKNOWN: Final = ("NodeStatusUnknown", "Kubelet stopped posting node status.")
CAPACITY: Final = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}


def _condition(type_: str, status: str, reason: str = "", message: str = "") -> Object:
    default_reason, default_message = CONDITIONS[type_][1].get(status, UNKNOWN)
    now = meta.timestamp()
    return {
        "type": type_,
        "status": status,
        "reason": reason or default_reason,
        "message": message or default_message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def manifest(name: str, index: int) -> Object:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }
    cidr = f"10.244.{index}.0/24"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
    }


def initial_status(name: str, address: str) -> Object:
    version = discovery.version()["gitVersion"]
    return {
        "capacity": dict(CAPACITY),
        "allocatable": dict(CAPACITY),
        "conditions": [_condition(t, healthy) for t, (healthy, _) in CONDITIONS.items()],
        "addresses": [
            {"type": "InternalIP", "address": address},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": meta.short_hash(f"machine/{name}"),
            "systemUUID": meta.short_hash(f"system/{name}"),
            "bootID": meta.short_hash(f"boot/{name}"),
            "kernelVersion": "6.1.0",
            "osImage": "Krake fake node",
            "containerRuntimeVersion": "containerd://1.7.0",
            "kubeletVersion": version,
            "kubeProxyVersion": version,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "images": [],
    }


def with_condition(
    node: Object, type_: str, status: str, reason: str = "", message: str = ""
) -> Object:
    """The status of `node` with condition `type_` set (transition time kept if equal)."""
    if type_ not in CONDITIONS:
        raise ValueError(f"unknown node condition {type_!r}; known: {', '.join(CONDITIONS)}")
    if status not in ("True", "False", "Unknown"):
        raise ValueError(f"condition status must be True, False or Unknown, not {status!r}")
    status_: Object = copy.deepcopy(node.get("status", {}))
    made = _condition(type_, status, reason, message)
    conditions = status_.get("conditions") or []
    old = next((c for c in conditions if c.get("type") == type_), None)
    if old is not None and old.get("status") == status:
        made["lastTransitionTime"] = old.get("lastTransitionTime", made["lastTransitionTime"])
    status_["conditions"] = [c for c in conditions if c.get("type") != type_] + [made]
    order = list(CONDITIONS)
    status_["conditions"].sort(
        key=lambda c: order.index(c["type"]) if c["type"] in order else len(order)
    )
    return status_
