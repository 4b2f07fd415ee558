"""A fake Kubernetes API server, faithful enough for the official clients, with a
simulated controller manager and kubelet, for tests and demos of Krake.

    with FakeCluster("a") as cluster:            # or: async with FakeCluster("a") as cluster:
        client = cluster.api_client()             # kubernetes.client.ApiClient
        cluster.kubeconfig, cluster.kubeconfig_path, cluster.url
        cluster.objects("Pod", "default"); cluster.set_node_condition("Ready", False)
        cluster.crash_loop("Deployment", "web"); cluster.unreachable(); cluster.reachable()

    python -m krake_testing.kube --address 127.0.0.1:6443 --kubeconfig ./a.yaml [--token T]

MODELLED
- Protocol: JSON over HTTP/1.1, TLS with a per-cluster CA; authentication by client
  certificate or bearer token, else 401 (`auth`). Errors are `Status` objects with
  Kubernetes' reasons and codes (`errors`).
- Discovery: /version, /api, /apis, /apis/<group>, /api/v1, /apis/<group>/<version>
  (`discovery`), computed live, so CRD types appear and vanish with their CRD.
- Types: a table of 32 built-in types (core, apps, batch, networking, rbac,
  apiextensions, storage, policy, autoscaling, coordination) and every served version
  of each CRD (`kinds`); namespaced and cluster-scoped paths (`paths`).
- Verbs: get, list, create, update (PUT), patch, delete, deletecollection, and the
  `status` subresource (`verbs`, `handlers`); dryRun=All.
- Metadata: uid, creationTimestamp, generateName, resourceVersion from one global
  counter, generation bumped on non-metadata (and non-status) changes, no-op writes
  that keep the resourceVersion (`meta`, `store`).
- Concurrency: 409 Conflict on a stale resourceVersion or a failed delete
  precondition; 409 AlreadyExists; 404 NotFound (also for a missing namespace);
  403 in a terminating namespace.
- Validation (`validation`): 422 Invalid for bad or missing names, bad labels,
  required fields of common types (containers, selectors, templates, CRD names...),
  selector/template label mismatch, Job restart policy; 400 for `1.0` in integer
  fields and for apiVersion/kind/namespace mismatches. Schemas are not enforced.
- Defaults (`defaults`) for pod specs, workloads, Jobs, Services (cluster IPs, node
  ports), Namespaces, Secrets (stringData).
- Lists: labelSelector (full grammar), fieldSelector (metadata.name,
  metadata.namespace and per-type field labels), limit/continue (`selectors`).
- Patches: merge (RFC 7386), JSON (RFC 6902), strategic merge with the merge keys of
  the common types (`patches`, `strategic`); server-side apply with fieldManager,
  force, conflicts and managedFields, ownership simplified as `apply` documents.
- Watch: `?watch=true` (and the deprecated /watch/ paths) from a resourceVersion, 410
  Expired as an ERROR event once compacted, selectors with ADDED/DELETED on
  (un)matching, allowWatchBookmarks, timeoutSeconds (`watches`).
- Deletion (`deletion`): finalizers and deletionTimestamp, namespace termination,
  ownerReferences garbage collection (Background; Foreground treated alike; Orphan),
  CRD removal deleting its objects.
- Simulation (`manager`, `replicas`, `sets`, `jobs`, `pods`, `namespaces`,
  `addons`): Deployments -> ReplicaSets -> Pods, StatefulSets, DaemonSets, Jobs to
  Complete, pods to Running/Ready or Succeeded after configurable delays, node
  readiness, LoadBalancer IPs, PVC binding, default ServiceAccounts.
- Failures (`faults`, `nodes`, `server`): crash loops per pod or workload, node
  conditions (Ready, MemoryPressure, DiskPressure, PIDPressure), the API unreachable
  (connections refused, or accepted and never answered) and back.

NOT MODELLED
Authorization/RBAC enforcement, admission webhooks, OpenAPI documents and schema
validation, aggregated discovery, protobuf/CBOR/Table encodings, subresources other
than status (scale, log, exec, attach, portforward, eviction, binding, token),
`resourceVersionMatch` and consistent list snapshots (continue tokens page over the
current state), `sendInitialEvents`, conversion webhooks, immutable-field checks,
ResourceQuota/LimitRange enforcement, CronJob scheduling, Endpoints/EndpointSlices,
Events, HPA and PDB controllers, rollout pacing (maxSurge/maxUnavailable), probes,
graceful pod termination, eviction from NotReady nodes, node heartbeats and leases.
"""

from krake_testing.kube.cluster import FakeCluster
from krake_testing.kube.context import Timing
from krake_testing.kube.server import ClusterServer

__all__ = ["ClusterServer", "FakeCluster", "Timing"]
