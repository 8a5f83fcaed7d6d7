"""The records adapters hand to the engine, and the events it hands on. Plain data, no mitmproxy."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RECORDING_CLIENT = "recording"  # the one client of a recording that has no client identity
# Times the reports can print (datetime's range, with a day to spare for timeouts): a recording's times must be in it.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC).timestamp()
LATEST = datetime(9999, 12, 30, tzinfo=UTC).timestamp()


class Severity(str):
    """How bad a finding is: the word reports, rules and options spell it with, ordered by rank."""

    ORDER = ("info", "low", "medium", "high", "critical")

    def __new__(cls, value: str) -> Severity:
        if value not in cls.ORDER:
            raise ValueError(f"one of {', '.join(cls.ORDER)}, not {value!r}")
        return super().__new__(cls, value)

    @property
    def rank(self) -> int:
        return self.ORDER.index(self)

    def __lt__(self, other: str) -> bool:
        return self.rank < Severity(other).rank

    def __le__(self, other: str) -> bool:
        return self.rank <= Severity(other).rank

    def __gt__(self, other: str) -> bool:
        return self.rank > Severity(other).rank

    def __ge__(self, other: str) -> bool:
        return self.rank >= Severity(other).rank


SEVERITIES = Severity.ORDER
_NOT_UTF8 = re.compile("[\ud800-\udfff]")


def printable(value: Any) -> Any:
    """Text fit to write anywhere (UTF-8 files, flow metadata, HTML, URL parsers). Records hold bytes that
    were not UTF-8 as surrogate escapes, as mitmproxy decodes them; here each such byte becomes `%XX`, as it
    would be written in a URL. Lists are done item by item."""
    if isinstance(value, str):
        return value if value.isascii() else _NOT_UTF8.sub(_escaped_byte, value)
    if isinstance(value, list):
        return [printable(item) for item in value]
    return value


def _escaped_byte(match: re.Match) -> str:
    code = ord(match.group())
    return f"%{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


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
    connection: str | None = None  # the client connection it came on (None: not recorded)

    @property
    def user_agent(self) -> str | None:
        """The User-Agent, cut to a length fit to keep and print."""
        agent = header(self.headers, "user-agent")
        return agent[:MAX_USER_AGENT] if agent is not None else None


MAX_USER_AGENT = 256


@dataclass(slots=True)
class Response:
    status: int
    headers: Headers
    time: float  # when its headers arrived
    withheld: bool = False  # block mode kept it from the client (recorded so): nobody will follow it
    body: Body = field(default_factory=lambda: Body(None), compare=False)  # read for logins; unknown at its headers

    @property
    def locations(self) -> list[str]:
        return header_values(self.headers, "location")


Exchange = tuple[Request, Response | None]  # a request and its response (None: it got none), as recorded


@dataclass(frozen=True, slots=True)
class ChainPosition:
    chain: str  # id: the flow id of the chain's first request
    hop: int  # 1-based number of the redirect in its chain


@dataclass(slots=True)
class Event:
    """Something rules judge. `stage` is `response` (a 3xx on its own), `followup` (a 3xx paired with
    the client's next request), `no-followup` (a 3xx nobody followed in time) or `flow` (a step of a login)."""

    stage: str
    facts: dict[str, Any]
    client: str
    position: ChainPosition
    redirect_flow: str
    followup_flow: str | None
    time: float
    user_agent: str | None = None  # the follow-up's, else the redirected request's
    # How the follow-up was paired (see Pairing): `unique`, `matched` or `ambiguous`; None without a follow-up.
    pairing: str | None = None
    # For an ambiguous pairing, the facts the follow-up would have with each candidate tied with the one taken:
    # a verdict that differs between them depends on the choice, and is not enough to block.
    alternatives: tuple[dict[str, Any], ...] = ()
    oauth_flow: str | None = None  # the OAuth, OpenID Connect or SAML login it belongs to: its first flow's id
