"""What a cloud's add-ons would do: LoadBalancer Services get an ingress IP (the
cluster's listening host) and PersistentVolumeClaims are bound at once with the
requested capacity. No volumes or load balancers exist behind them."""

from __future__ import annotations

from krake_testing.kube.context import Context
from krake_testing.kube.store import Object


def service(ctx: Context, svc: Object) -> None:
    if svc["spec"].get("type") != "LoadBalancer":
        return
    ingress = [{"ip": ctx.host, "ipMode": "VIP"}]
    ctx.set_status("Service", svc, {**svc["status"], "loadBalancer": {"ingress": ingress}})


def claim(ctx: Context, pvc: Object) -> None:
    spec = pvc["spec"]
    storage = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
    status = {
        "phase": "Bound",
        "accessModes": spec.get("accessModes", []),
        "capacity": {"storage": storage},
    }
    ctx.set_status("PersistentVolumeClaim", pvc, status)
