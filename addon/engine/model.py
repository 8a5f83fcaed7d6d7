"""The records adapters hand to the engine, and the events it hands on. Plain data, no mitmproxy."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Body:
    """A request body as the engine sees it: its length and, computed only when needed, a digest.

    The bytes are never kept: `digest()` hashes them once through the callable the adapter gave, and
    what outlives the flow is `detach()`'s copy, so a pending redirect holds a 32-byte digest, not a
    100 MB body. `length` is None when the body was streamed past the proxy and never seen.
    """

    __slots__ = ("length", "_read", "_digest")

    def __init__(self, length: int | None, read: Callable[[], bytes | None] | None = None) -> None:
        self.length = length
        self._read = read
        self._digest: str | None = None

    @classmethod
    def of(cls, data: bytes | None) -> Body:
        if data is None:
            return cls(None)
        return cls(len(data), lambda: data)

    def read(self) -> bytes | None:
        """The bytes, while the flow still holds them (for parsing credentials); None once detached."""
        return self._read() if self._read is not None else None

    def digest(self) -> str | None:
        if self._digest is None and self._read is not None:
            data = self._read()
            if data is not None:
                self._digest = hashlib.sha256(data).hexdigest()  # SHA-256: hardware-accelerated on most CPUs
        return self._digest

    def detach(self) -> Body:
        """A copy holding only length and digest, safe to keep after the flow is gone."""
        kept = Body(self.length)
        kept._digest = self.digest() if self.length else None
        return kept


Headers = tuple[tuple[str, str], ...]  # (lower-case name, value), in order


def header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def header_values(headers: Headers, name: str) -> list[str]:
    return [value for key, value in headers if key == name]


@dataclass(slots=True)
class Request:
    flow_id: str
    client: str  # peer IP live; one fixed name for a recording without client identity
    method: str
    url: str
    headers: Headers
    body: Body
    time: float  # seconds since the epoch, when the request started


@dataclass(slots=True)
class Response:
    status: int
    headers: Headers
    time: float  # when the response was complete

    @property
    def locations(self) -> list[str]:
        return header_values(self.headers, "location")


@dataclass(frozen=True, slots=True)
class ChainPosition:
    chain: str  # id: the flow id of the chain's first request
    hop: int  # 1-based number of the redirect in its chain


@dataclass(slots=True)
class Event:
    """Something rules judge. `stage` is `response` (a 3xx on its own), `followup` (a 3xx paired with
    the client's next request) or `no-followup` (a 3xx nobody followed in time)."""

    stage: str
    facts: dict[str, Any]
    client: str
    position: ChainPosition
    redirect_flow: str
    followup_flow: str | None
    time: float
