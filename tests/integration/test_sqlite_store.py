"""What only the embedded backend promises: restarts keep everything; one owner process."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from krake_api.storage.base import Change, ChangeType, Unavailable
from krake_api.storage.sqlite import SqliteStore


async def test_data_revisions_and_history_survive_a_restart(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "krake.db")
    store = await SqliteStore.open(path)
    first = await store.put("/k/a", b"one")
    await store.put("/k/b", b"one")
    last = await store.replace("/k/a", b"two", expect=first)
    lease = await store.grant(60)
    await store.put("/k/leased", b"held", lease=lease)
    await store.close()

    store = await SqliteStore.open(path)
    try:
        revision = await store.revision()
        assert revision == last + 1
        assert [(e.key, e.value) for e in (await store.range("/k/")).entries] == [
            ("/k/a", b"two"),
            ("/k/b", b"one"),
            ("/k/leased", b"held"),
        ]
        assert (await store.range("/k/", revision=first)).entries[0].value == b"one"
        events = store.watch("/k/a", after=first)
        change = await anext(events)
        await events.aclose()
        assert change == Change(ChangeType.PUT, "/k/a", b"two", b"one", last, first)
        assert await store.keepalive(lease) == 60
        assert await store.put("/k/c", b"new") == revision + 1
    finally:
        await store.close()


async def test_a_second_process_cannot_open_the_same_file(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "krake.db")
    store = await SqliteStore.open(path)
    try:
        probe = (
            "import asyncio, sys\n"
            "from krake_api.storage.sqlite import SqliteStore\n"
            "from krake_api.storage.base import Unavailable\n"
            "try:\n"
            "    asyncio.run(SqliteStore.open(sys.argv[1]))\n"
            "except Unavailable as err:\n"
            "    print(err)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe, path], capture_output=True, text=True, timeout=60
        )
        assert "in use by another Krake process" in out.stdout, out.stderr
        with pytest.raises(Unavailable, match="in use"):
            await SqliteStore.open(path)
        assert await store.put("/k/a", b"still mine") > 0
    finally:
        await store.close()
