"""The Job controller, simplified.

A Job runs up to `parallelism` pods at a time until `completions` of them succeed; it
is then Complete (conditions `SuccessCriteriaMet` and `Complete`, `completionTime`).
Failed pods (restartPolicy Never under an injected crash loop) count towards
`backoffLimit`; one more failure than it allows makes the Job Failed (conditions
`FailureTarget` and `Failed`, reason BackoffLimitExceeded) and deletes its active pods.
`suspend` stops new pods. Not modelled: Indexed completion, pod failure policies,
`activeDeadlineSeconds`, `ttlSecondsAfterFinished`; CronJobs are stored but never run.
"""

from __future__ import annotations

from typing import Final

from krake_testing.kube import context, meta, templates
from krake_testing.kube.context import Context
from krake_testing.kube.store import Object

FINISHED: Final = ("Complete", "Failed")


def _finished(job: Object) -> bool:
    conditions = job["status"].get("conditions") or []
    return any(c.get("type") in FINISHED and c.get("status") == "True" for c in conditions)


def _final_conditions(job: Object, complete: bool) -> list[Object]:
    existing = job["status"].get("conditions")
    if complete:
        return [
            context.condition(
                existing,
                "SuccessCriteriaMet",
                True,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ),
            context.condition(
                existing,
                "Complete",
                True,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ),
        ]
    message = "Job has reached the specified backoff limit"
    return [
        context.condition(existing, "FailureTarget", True, "BackoffLimitExceeded", message),
        context.condition(existing, "Failed", True, "BackoffLimitExceeded", message),
    ]


def job(ctx: Context, job: Object) -> None:
    if context.deleting(job) or _finished(job):
        return
    spec = job["spec"]
    pods = ctx.owned("Pod", job)
    phases = [p["status"].get("phase") for p in pods]
    succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
    active = [
        p
        for p in pods
        if not context.deleting(p) and p["status"].get("phase") not in ("Succeeded", "Failed")
    ]
    completions = spec.get("completions") or 1
    complete = succeeded >= completions
    gave_up = not complete and failed > spec.get("backoffLimit", 6)
    if gave_up:
        for pod in active:
            ctx.delete("Pod", pod)
    elif not complete and not spec.get("suspend"):
        wanted = min(spec.get("parallelism", 1), completions - succeeded) - len(active)
        for _ in range(max(wanted, 0)):
            made = templates.pod_from(spec["template"], ctx.kind("Job"), job)
            ctx.create("Pod", job["metadata"]["namespace"], made)
    status: Object = {
        "startTime": job["status"].get("startTime") or meta.timestamp(),
        "active": 0 if complete or gave_up else len(active),
        "ready": 0 if complete or gave_up else sum(1 for p in active if context.is_ready(p)),
        "succeeded": succeeded,
        "failed": failed,
        "uncountedTerminatedPods": {},
    }
    if complete or gave_up:
        status["conditions"] = _final_conditions(job, complete)
    if complete:
        status["completionTime"] = meta.timestamp()
    ctx.set_status("Job", job, context.drop_zeros(status, "active", "succeeded", "failed"))
