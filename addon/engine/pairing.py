"""Pairing: every 3xx waits for the same client's next request to its Location.

Pending redirects are keyed by (client, target URL without fragment) and paired first-in first-out.
The table is ordered by age, so expiry and eviction pop from its front: O(1) work per flow, and memory
bounded by `max_pending` whatever the traffic does. Chains live only as long as a pending redirect or
an in-flight follow-up refers to them.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from . import facts as F
from . import urls
from .model import REDIRECT_STATUSES, ChainPosition, Event, Request, Response, header, header_values
from .secrets import CookieJar, SecretPolicy, credentials_of

Key = tuple[str, str]  # (client, target URL without fragment)


def _preflight(request: Request) -> bool:
    """A CORS preflight a browser sends before a cross-origin follow-up: not the follow-up itself."""
    return request.method == "OPTIONS" and header(request.headers, "access-control-request-method") is not None


@dataclass(slots=True)
class _Chain:
    id: str
    first_origin: str
    seen: set[tuple[str, str]] = field(default_factory=set)  # (method, URL) requested in the chain
    looped: bool = False
    left_origin: bool = False  # a follow-up went to another origin than the first (Fetch drops Authorization)
    carried_secrets: bool = False

    def visit(self, method: str, url: str) -> bool:
        """Record a request in the chain; True the first time the chain repeats one."""
        step = (method, url)
        if step in self.seen:
            first = not self.looped
            self.looped = True
            return first
        if len(self.seen) <= F.MAX_REDIRECTS:  # a chain cut off by the limit needs no longer memory
            self.seen.add(step)
        return False


@dataclass(slots=True)
class Pending:
    """A redirect waiting for its follow-up."""

    key: Key
    chain: _Chain
    hop: int
    original: F.Original
    redirect_flow: str

    @property
    def time(self) -> float:
        return self.original.time


@dataclass(slots=True)
class Stats:
    redirects: int = 0
    followed: int = 0
    not_followed: int = 0
    evicted: int = 0
    unparsed_bodies: int = 0  # redirected bodies that might hold credentials but were too large or malformed


class Pairing:
    def __init__(
        self, follow_timeout: float = 30.0, max_pending: int = 10_000, policy: SecretPolicy | None = None
    ) -> None:
        self.follow_timeout = follow_timeout
        self.max_pending = max_pending
        self.policy = policy or SecretPolicy()
        self.cookies = CookieJar()
        self.stats = Stats()
        self._seq = 0
        self._pending: OrderedDict[int, Pending] = OrderedDict()  # oldest first
        self._by_key: dict[Key, deque[int]] = {}
        self._clients: dict[str, int] = {}  # pending count per client: skip URL parsing for the rest
        self._inflight: OrderedDict[str, tuple[_Chain, int]] = OrderedDict()  # follow-up flow -> chain, hop

    @property
    def pending(self) -> int:
        return len(self._pending)

    def request(self, request: Request) -> list[Event]:
        """A request arrived: if it follows a pending redirect, the paired hop's event."""
        events = self.expire(request.time)
        if not self._clients.get(request.client) or _preflight(request):
            return events
        url = urls.parse(request.url)
        if url is None:
            return events
        upgraded = False
        entry = self._take((request.client, url.key))
        if entry is None and (variant := urls.http_variant(url)) is not None:
            entry = self._take((request.client, variant))
            upgraded = entry is not None
        if entry is None:
            return events
        self.stats.followed += 1
        chain = entry.chain
        loop = chain.visit(request.method, url.without_fragment)
        chain.left_origin = chain.left_origin or url.origin != chain.first_origin
        self._remember_inflight(request.flow_id, chain, entry.hop)
        hop_facts = F.followup_facts(
            entry.original, request, url, upgraded, loop, chain.left_origin, self.policy, self.cookies
        )
        events.append(self._event("followup", hop_facts, entry, request.client, request.flow_id, request.time))
        return events

    def response(self, request: Request, response: Response) -> tuple[list[Event], Pending | None]:
        """A response completed. For a redirect status: its event, and the Pending that `wait` starts
        (the caller may drop it instead, when it stopped the redirect from reaching the client)."""
        events = self.expire(response.time)
        chain, previous_hop = self._inflight.pop(request.flow_id, (None, 0))
        set_cookies = header_values(response.headers, "set-cookie")
        start = urls.parse(request.url) if set_cookies or response.status in REDIRECT_STATUSES else None
        if set_cookies and start is not None:
            self.cookies.learn(request.client, start.host, set_cookies)
        if response.status not in REDIRECT_STATUSES:
            return events, None
        self.stats.redirects += 1
        if chain is None:
            chain = _Chain(request.flow_id, start.origin if start else "")
            chain.visit(request.method, start.without_fragment if start else request.url)
        credentials = credentials_of(request, self.policy)
        self.stats.unparsed_bodies += credentials.unparsed
        chain.carried_secrets = chain.carried_secrets or credentials.any
        hop = previous_hop + 1
        redirect = F.redirect_facts(request, response, hop, credentials, chain.carried_secrets, self.policy)
        original = F.Original(redirect, request.body.detach(), credentials, start.host if start else "", response.time)
        entry = Pending((request.client, ""), chain, hop, original, request.flow_id)
        events.append(self._event("response", redirect, entry, request.client, None, response.time))
        if redirect["location_state"] != "ok":
            return events, None
        entry.key = (request.client, urls.parse(redirect["location"]).key)
        return events, entry

    def wait(self, entry: Pending) -> None:
        """Start waiting for the follow-up of a redirect the client received."""
        self._add(entry)

    def error(self, flow_id: str) -> None:
        """A flow ended without a response: it will not continue a chain."""
        self._inflight.pop(flow_id, None)

    def expire(self, now: float) -> list[Event]:
        """Pending redirects older than the follow timeout become `no-followup` events."""
        events = []
        deadline = now - self.follow_timeout
        while self._pending:
            entry = next(iter(self._pending.values()))
            if entry.time > deadline:
                break
            events.append(self._unfollowed(self._pop_oldest(), now))
        return events

    def finish(self, now: float) -> list[Event]:
        """End of input or shutdown: everything still pending was not followed."""
        events = []
        while self._pending:
            events.append(self._unfollowed(self._pop_oldest(), now))
        self._inflight.clear()
        return events

    def _unfollowed(self, entry: Pending, now: float) -> Event:
        self.stats.not_followed += 1
        return self._event("no-followup", entry.original.facts, entry, entry.key[0], None, now)

    @staticmethod
    def _event(stage, facts, entry: Pending, client, followup_flow, time) -> Event:
        return Event(
            stage=stage,
            facts=facts,
            client=client,
            position=ChainPosition(entry.chain.id, entry.hop),
            redirect_flow=entry.redirect_flow,
            followup_flow=followup_flow,
            time=time,
        )

    def _add(self, entry: Pending) -> None:
        self._seq += 1
        self._pending[self._seq] = entry
        self._by_key.setdefault(entry.key, deque()).append(self._seq)
        self._clients[entry.key[0]] = self._clients.get(entry.key[0], 0) + 1
        while len(self._pending) > self.max_pending:
            self._pop_oldest()
            self.stats.evicted += 1

    def _take(self, key: Key) -> Pending | None:
        queue = self._by_key.get(key)
        if not queue:
            return None
        entry = self._pending.pop(queue.popleft())
        self._forget(entry, queue)
        return entry

    def _pop_oldest(self) -> Pending:
        # The oldest entry overall is the oldest of its key too, so it heads that key's queue.
        _, entry = self._pending.popitem(last=False)
        queue = self._by_key[entry.key]
        queue.popleft()
        self._forget(entry, queue)
        return entry

    def _forget(self, entry: Pending, queue: deque[int]) -> None:
        if not queue:
            del self._by_key[entry.key]
        client = entry.key[0]
        remaining = self._clients[client] - 1
        if remaining:
            self._clients[client] = remaining
        else:
            del self._clients[client]

    def _remember_inflight(self, flow_id: str, chain: _Chain, hop: int) -> None:
        self._inflight[flow_id] = (chain, hop)
        while len(self._inflight) > self.max_pending:
            self._inflight.popitem(last=False)
