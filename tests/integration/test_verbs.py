"""The generic verbs on both backends: one table-driven body for every kind."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from krake.core.v1 import metadata_pb2
from krake_api import errors, registry
from krake_api.registry import Kind
from krake_api.resources import verbs
from krake_api.storage.base import Store
from krake_testing.examples import changed_spec, example

KINDS = sorted(registry.KINDS.values(), key=lambda k: k.name)
_tests = itertools.count()


@pytest.fixture
def tag() -> str:
    """Unique per test: namespace and label of its objects (etcd is shared)."""
    return f"t{next(_tests)}"


def fresh(kind: Kind, tag: str, name: str = "example") -> Any:
    obj: Any = example(kind, name=f"{name}-{tag}", namespace=tag)
    obj.metadata.labels["test"] = tag
    return obj


def where(kind: Kind, obj: Any) -> tuple[str, str]:
    return (obj.metadata.namespace if kind.namespaced else ""), obj.metadata.name


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
async def test_life_cycle_of_every_kind(store: Store, kind: Kind, tag: str) -> None:
    created: Any = await verbs.create(store, kind, tag if kind.namespaced else "", fresh(kind, tag))
    meta = created.metadata
    assert (created.api, created.kind) == (kind.group, kind.name)
    assert meta.uid and meta.generation == 1 and meta.resource_version.isdigit()
    assert meta.created == meta.modified and not meta.HasField("deleted")
    namespace, name = where(kind, created)
    assert await verbs.get(store, kind, namespace, name) == created

    listing = await verbs.list_(store, kind, namespace, label_selector=f"test={tag}")
    assert listing.items == [created] and listing.next_page_token == ""

    sent = fresh(kind, tag)
    sent.spec.CopyFrom(changed_spec(kind))
    sent.metadata.labels["extra"] = "yes"
    sent.metadata.uid = meta.uid
    updated: Any = await verbs.update(store, kind, sent)
    assert updated.spec == changed_spec(kind) and updated.metadata.labels["extra"] == "yes"
    assert updated.metadata.generation == 2
    assert int(updated.metadata.resource_version) > int(meta.resource_version)
    assert (updated.metadata.uid, updated.metadata.created) == (meta.uid, meta.created)

    stale = fresh(kind, tag)
    stale.metadata.resource_version = meta.resource_version
    with pytest.raises(errors.StaleResourceVersion):
        await verbs.update(store, kind, stale)

    relabelled = fresh(kind, tag)
    relabelled.spec.CopyFrom(updated.spec)
    assert (await verbs.update(store, kind, relabelled)).metadata.generation == 2  # type: ignore[attr-defined]

    deleted: Any = await verbs.delete(store, kind, namespace, name)
    assert deleted.metadata.HasField("deleted")
    with pytest.raises(errors.NotFound):
        await verbs.get(store, kind, namespace, name)


@pytest.mark.parametrize(
    "kind", [k for k in KINDS if k.name in ("Application", "GlobalCloud")], ids=lambda k: k.name
)
async def test_status_updates_leave_spec_and_generation_alone(
    store: Store, kind: Kind, tag: str
) -> None:
    created: Any = await verbs.create(store, kind, tag, fresh(kind, tag))
    sent = fresh(kind, tag)
    sent.spec.CopyFrom(changed_spec(kind))
    sent.status.state = sent.status.State.values()[-1]
    sent.status.reason.message = "boom"
    updated: Any = await verbs.update_status(store, kind, sent)
    assert updated.status.reason.message == "boom" and updated.status.state == sent.status.state
    assert updated.spec == created.spec and updated.metadata.generation == 1
    assert (await verbs.get(store, kind, *where(kind, created))) == updated


async def test_create_ignores_server_fields_and_refuses_a_wrong_kind(
    store: Store, tag: str
) -> None:
    kind = registry.KINDS["Application"]
    sent = fresh(kind, tag)
    sent.metadata.uid = "forged"
    sent.metadata.generation = 7
    sent.metadata.resource_version = "99"
    sent.status.state = sent.status.State.RUNNING
    created: Any = await verbs.create(store, kind, tag, sent)
    assert created.metadata.uid != "forged" and created.metadata.generation == 1
    assert created.status.state == 0
    wrong = fresh(kind, tag, name="other")
    wrong.kind = "Cluster"
    wrong.metadata.namespace = "elsewhere"
    with pytest.raises(errors.InvalidArgument) as raised:
        await verbs.create(store, kind, tag, wrong)
    fields = {v.field for v in raised.value.violations}
    assert {"kind", "metadata.namespace"} <= fields
    with pytest.raises(errors.NotFound):
        await verbs.get(store, kind, tag, f"other-{tag}")


async def test_invalid_objects_are_refused_and_nothing_is_written(store: Store, tag: str) -> None:
    kind = registry.KINDS["Application"]
    bad = fresh(kind, tag)
    bad.metadata.name = "Not_A_Name"
    bad.spec.ClearField("manifest")
    with pytest.raises(errors.InvalidArgument) as raised:
        await verbs.create(store, kind, tag, bad)
    assert {"metadata.name", "spec.manifest"} <= {v.field for v in raised.value.violations}
    assert (await verbs.list_(store, kind, tag)).items == []


async def test_concurrent_creates_of_one_name_have_one_winner(store: Store, tag: str) -> None:
    kind = registry.KINDS["Cluster"]

    async def attempt() -> str:
        try:
            await verbs.create(store, kind, tag, fresh(kind, tag))
        except errors.AlreadyExists:
            return "exists"
        return "created"

    results = await asyncio.gather(*(attempt() for _ in range(100)))
    assert (results.count("created"), results.count("exists")) == (1, 99)


async def test_finalizers_hold_a_deleted_object_until_removed(store: Store, tag: str) -> None:
    kind = registry.KINDS["Cluster"]
    sent = fresh(kind, tag)
    sent.metadata.finalizers.append("krake.io/cleanup")
    await verbs.create(store, kind, tag, sent)
    name = sent.metadata.name
    marked: Any = await verbs.delete(store, kind, tag, name, propagation=metadata_pb2.FOREGROUND)
    assert marked.metadata.HasField("deleted")
    assert list(marked.metadata.finalizers) == ["krake.io/cleanup", "foregroundDeletion"]
    assert (await verbs.get(store, kind, tag, name)) == marked

    changed = fresh(kind, tag)
    changed.spec.CopyFrom(changed_spec(kind))
    changed.metadata.finalizers.extend(marked.metadata.finalizers)
    with pytest.raises(errors.FailedPrecondition, match="only remove finalizers"):
        await verbs.update(store, kind, changed)

    release = fresh(kind, tag)
    release.metadata.finalizers.append("foregroundDeletion")
    await verbs.update(store, kind, release)
    assert list((await verbs.get(store, kind, tag, name)).metadata.finalizers) == [  # type: ignore[attr-defined]
        "foregroundDeletion"
    ]
    await verbs.update(store, kind, fresh(kind, tag))
    with pytest.raises(errors.NotFound):
        await verbs.get(store, kind, tag, name)


async def test_delete_with_a_stale_resource_version_changes_nothing(store: Store, tag: str) -> None:
    kind = registry.KINDS["Metric"]
    created: Any = await verbs.create(store, kind, tag, fresh(kind, tag))
    await verbs.update(store, kind, fresh(kind, tag))
    with pytest.raises(errors.StaleResourceVersion):
        await verbs.delete(
            store,
            kind,
            tag,
            created.metadata.name,
            resource_version=created.metadata.resource_version,
        )
    assert not (await verbs.get(store, kind, tag, created.metadata.name)).metadata.HasField(  # type: ignore[attr-defined]
        "deleted"
    )


async def test_pages_are_a_consistent_snapshot_filtered_by_selectors(
    store: Store, tag: str
) -> None:
    kind = registry.KINDS["Application"]
    for i in range(30):
        obj = fresh(kind, tag, name=f"app{i:02}")
        obj.metadata.labels["tier"] = "front" if i % 3 else "back"
        await verbs.create(store, kind, tag, obj)
    first = await verbs.list_(store, kind, tag, label_selector="tier=front", size=4)
    writes = [
        verbs.create(store, kind, tag, fresh(kind, tag, name=f"late{i}")) for i in range(5)
    ] + [verbs.delete(store, kind, tag, f"app{i:02}-{tag}") for i in (1, 2, 4)]
    await asyncio.gather(*writes)
    names = [o.metadata.name for o in first.items]  # type: ignore[attr-defined]
    token = first.next_page_token
    while token:
        page = await verbs.list_(store, kind, tag, label_selector="tier=front", size=4, token=token)
        assert page.resource_version == first.resource_version
        names += [o.metadata.name for o in page.items]  # type: ignore[attr-defined]
        token = page.next_page_token
    assert names == [f"app{i:02}-{tag}" for i in range(30) if i % 3]
    now = await verbs.list_(store, kind, tag, label_selector="tier in (front)", size=100)
    assert len(now.items) == 20 - 3


async def test_an_expired_page_token_means_list_again(store: Store, tag: str) -> None:
    kind = registry.KINDS["Lease"]
    for i in range(3):
        await verbs.create(store, kind, tag, fresh(kind, tag, name=f"l{i}"))
    first = await verbs.list_(store, kind, tag, size=1)
    for i in range(3):
        await verbs.update(store, kind, fresh(kind, tag, name=f"l{i}"))
    await store.compact(await store.revision())
    with pytest.raises(errors.WatchTooOld):
        await verbs.list_(store, kind, tag, size=1, token=first.next_page_token)
    with pytest.raises(errors.InvalidArgument, match="page_token"):
        await verbs.list_(store, kind, tag, token="garbage")
