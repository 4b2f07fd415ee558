"""Multi-key transactions: all or nothing, one revision."""

from __future__ import annotations

import pytest

from krake_api.storage.base import (
    MAX_VALUE_SIZE,
    Create,
    Delete,
    KeyExists,
    KeyNotFound,
    Put,
    Replace,
    RevisionMismatch,
    Store,
    TooLarge,
)


async def test_a_transaction_applies_every_op_at_one_revision(store: Store, ns: str) -> None:
    a = await store.create(ns + "a", b"a0")
    await store.create(ns + "b", b"b0")
    revision = await store.txn(
        [
            Replace(ns + "a", b"a1", expect=a),
            Delete(ns + "b"),
            Create(ns + "c", b"c1"),
            Put(ns + "d", b"d1"),
        ]
    )
    page = await store.range(ns)
    assert [(e.key, e.value) for e in page.entries] == [
        (ns + "a", b"a1"),
        (ns + "c", b"c1"),
        (ns + "d", b"d1"),
    ]
    assert {e.mod_revision for e in page.entries} == {revision}
    assert await store.revision() == revision


@pytest.mark.parametrize(
    ("failing", "error"),
    [
        ("create", KeyExists),
        ("replace", RevisionMismatch),
        ("delete", KeyNotFound),
        ("delete-expect", RevisionMismatch),
    ],
)
async def test_one_failing_op_leaves_every_key_untouched(
    store: Store, ns: str, failing: str, error: type[Exception]
) -> None:
    a = await store.create(ns + "a", b"a0")
    await store.create(ns + "exists", b"x")
    before = await store.range(ns)
    bad = {
        "create": Create(ns + "exists", b"again"),
        "replace": Replace(ns + "exists", b"y", expect=a + 1000),
        "delete": Delete(ns + "missing"),
        "delete-expect": Delete(ns + "exists", expect=a + 1000),
    }[failing]
    with pytest.raises(error) as raised:
        await store.txn([Replace(ns + "a", b"a1", expect=a), Create(ns + "new", b"n"), bad])
    assert bad.key in str(raised.value)
    after = await store.range(ns)
    assert after.entries == before.entries
    assert after.revision == before.revision


async def test_invalid_transactions_are_refused_before_any_write(store: Store, ns: str) -> None:
    before = await store.revision()
    with pytest.raises(ValueError, match="at least one"):
        await store.txn([])
    with pytest.raises(ValueError, match="each key once"):
        await store.txn([Put(ns + "a", b"1"), Put(ns + "a", b"2")])
    with pytest.raises(TooLarge):
        await store.txn([Put(ns + "a", b"1"), Put(ns + "b", b"x" * (MAX_VALUE_SIZE + 1))])
    assert await store.revision() == before
    assert await store.get(ns + "a") is None
