"""Conformance tests run every body on etcd and on sqlite (the `store` fixture in
tests/conftest.py); each test keeps to its own key prefix."""

from __future__ import annotations

import itertools

import pytest

_prefixes = itertools.count()


@pytest.fixture
def ns() -> str:
    """A key prefix of this test's own (the etcd server is shared by the session)."""
    return f"/conformance/{next(_prefixes)}/"
