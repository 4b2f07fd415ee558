"""Page tokens: where the next page starts and the revision every page is read at.

A token is opaque to clients (URL-safe base64 of a small JSON document). Reading
every page at the first page's revision gives a consistent snapshot; once storage
has compacted that revision, the token is expired (`WatchTooOld` -> OUT_OF_RANGE)
and the client lists again from the start.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from krake_api.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000


@dataclass(frozen=True, slots=True)
class PageToken:
    revision: int
    after: str  # the storage key of the last item returned

    def encode(self) -> str:
        data = json.dumps({"r": self.revision, "k": self.after}, separators=(",", ":"))
        return base64.urlsafe_b64encode(data.encode()).decode()

    @classmethod
    def decode(cls, token: str) -> PageToken:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            revision, after = data["r"], data["k"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            revision, after = None, None
        if not isinstance(revision, int) or not isinstance(after, str) or revision <= 0:
            raise InvalidArgument(
                [FieldViolation("page_token", "is not a token this server issued")]
            )
        return cls(revision, after)


def page_size(requested: int) -> int:
    """The page size to use: the default for 0, at most MAX_PAGE_SIZE."""
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
