"""The namespace controller: every active namespace gets a `default` ServiceAccount; a
terminating namespace has its content deleted (honouring finalizers) and, once empty,
its `kubernetes` finalizer cleared, which removes it."""

from __future__ import annotations

import copy

from krake_testing.kube import context
from krake_testing.kube.context import Context
from krake_testing.kube.store import Object


def namespace(ctx: Context, ns: Object) -> None:
    name = ns["metadata"]["name"]
    if not context.deleting(ns):
        if ctx.api.store.get(ctx.kind("ServiceAccount").resource, (name, "default")) is None:
            ctx.create("ServiceAccount", name, {"metadata": {"name": "default"}})
        return
    remaining = 0
    resources = {k.resource: k for k in reversed(list(ctx.api.kinds)) if k.namespaced}
    for kind in resources.values():
        for obj in ctx.items(kind, name):
            remaining += 1
            if not context.deleting(obj):
                ctx.delete(kind, obj)
    if remaining == 0 and ns.get("spec", {}).get("finalizers"):
        finalized = copy.deepcopy(ns)
        finalized["spec"]["finalizers"] = []
        ctx.update("Namespace", ns, finalized)
