"""Pairing: every 3xx waits for the same client's next request to its Location.

Pending redirects are keyed by (client, canonical target): every spelling a client may send for a Location
(`urls.Url.key`) maps to one key. Several redirects of one client may wait on the same key (parallel webhook
deliveries, two programs behind one address); the follow-up goes to the candidate that explains it best —
received on the same connection, with the same User-Agent, with the body a correct client would send — and
first-in first-out breaks a remaining tie. A candidate whose User-Agent differs from the follow-up's is another
program's redirect, never this request's.

The table is ordered by age, so expiry and eviction pop from its front: O(1) work per flow, and memory bounded
by `max_pending` whatever the traffic does. Chains live only as long as a pending redirect or an in-flight
follow-up refers to them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import islice

from . import facts as F
from . import oauth, urls
from .model import REDIRECT_STATUSES, ChainPosition, Event, Request, Response, header, header_values
from .secrets import CookieJar, SecretPolicy, credentials_of

Key = tuple[str, str]  # (client, canonical target URL, or its digest when long)
MAX_CANDIDATES = 256  # the oldest redirects of one key weighed for a follow-up: linear work per request
# Memory is bounded in bytes, not only in count: what a pending redirect keeps of long texts (URLs, mostly) is cut
# to MAX_KEPT_TEXT characters, a long target is kept as its digest, and all of them together stay within
# MAX_PENDING_BYTES (the oldest are evicted beyond it, as beyond max_pending).
MAX_KEPT_TEXT = 1024
MAX_KEY = 256
MAX_PENDING_BYTES = 32 * 1024 * 1024
ENTRY_BYTES = 2048  # what an entry costs besides its texts: its objects, its facts' dict, its fingerprints


def _target(key: str) -> str:
    return (
        key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    )


def _preflight(request: Request) -> bool:
    """A CORS preflight a browser sends before a cross-origin follow-up: not the follow-up itself."""
    return request.method == "OPTIONS" and header(request.headers, "access-control-request-method") is not None


@dataclass(slots=True)
class _Chain:
    id: str
    first_origin: str
    seen: set[tuple[str, str]] = field(default_factory=set)  # (method, URL key) requested in the chain
    looped: bool = False
    left_origin: bool = False  # a follow-up went to another origin than the first (Fetch drops Authorization)
    carried_secrets: bool = False

    def visit(self, method: str, key: str) -> bool:
        """Record a request in the chain; True when the chain already requested it (a cycle, if it is
        redirected again)."""
        step = (method, key)
        if step in self.seen:
            return True
        if len(self.seen) <= F.MAX_REDIRECTS:  # a chain cut off by the limit needs no longer memory
            self.seen.add(step)
        return False


@dataclass(slots=True)
class Pending:
    """A redirect waiting for its follow-up: `keys` are its Location's as clients may read it (`urls.readings`)."""

    keys: tuple[Key, ...]
    chain: _Chain
    hop: int
    original: F.Original | None  # None only while its 3xx is judged
    redirect_flow: str
    stopped: bool = False  # block mode stopped a follow-up of it
    size: int = 0  # bytes it holds, about

    @property
    def time(self) -> float:
        return self.original.time

    @property
    def client(self) -> str:
        return self.keys[0][0]


@dataclass(slots=True)
class Stats:
    redirects: int = 0
    followed: int = 0
    not_followed: int = 0
    evicted: int = 0
    unparsed_bodies: int = 0  # redirected bodies that might hold credentials but were too large or malformed
    cut: int = 0  # pending redirects whose long texts (URLs) were cut to MAX_KEPT_TEXT characters


def _explains_body(original: F.Original, followup: Request) -> bool:
    """The follow-up's body is what a correct client sends for this redirect: the original's again when it kept
    the method, none when it changed it."""
    before, after = original.body, followup.body
    if before.length is None or after.length is None:
        return False
    if followup.method != original.facts["original_method"]:
        return after.length == 0
    if before.length != after.length:
        return False
    return before.length == 0 or before.digest() == after.digest()


def _same_program(redirected: str | None, followup: str | None) -> bool:
    """Clients keep their User-Agent while they follow: another one is another program on the same address."""
    return redirected is None or followup is None or redirected == followup


def _score(candidate: Pending, followup: Request, user_agent: str | None) -> tuple[bool, bool, bool]:
    """How well a candidate explains a follow-up, strongest evidence first: an HTTP/1 connection carries one
    client's requests in turn; a User-Agent names the program; the body tells parallel calls apart."""
    original = candidate.original
    return (
        original.connection is not None and original.connection == followup.connection,
        original.user_agent is not None and original.user_agent == user_agent,
        _explains_body(original, followup),
    )


class Pairing:
    def __init__(
        self,
        follow_timeout: float = 30.0,
        max_pending: int = 10_000,
        policy: SecretPolicy | None = None,
        flow_timeout: float = 600.0,
    ) -> None:
        self.follow_timeout = follow_timeout
        self.max_pending = max_pending
        # The 3xx's facts a pending redirect keeps: what rules read at later stages, and what reports show.
        self.keep: frozenset[str] = frozenset(name for name, fact in F.CATALOG.items() if fact.redirect)
        self.flows = oauth.Flows(policy or SecretPolicy(), flow_timeout)  # logins, followed step by step
        self.policy = self.flows.policy
        self.cookies = CookieJar()
        self.stats = Stats()
        self._seq = 0
        self._pending: OrderedDict[int, Pending] = OrderedDict()  # oldest first
        self._by_key: dict[Key, dict[int, None]] = {}  # each key's entries, oldest first
        self._by_redirect: dict[str, int] = {}  # the entry of each 3xx flow
        self._bytes = 0  # what the entries hold, about
        self._clients: dict[str, int] = {}  # pending count per client: skip URL parsing for the rest
        # follow-up flow -> the redirect it follows, and whether it repeats a request of the chain
        self._inflight: OrderedDict[str, tuple[Pending, bool]] = OrderedDict()

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def policy(self) -> SecretPolicy:
        return self.flows.policy

    @policy.setter
    def policy(self, policy: SecretPolicy) -> None:
        self.flows.policy = policy

    def request(self, request: Request) -> list[Event]:
        """A request arrived: if it follows a pending redirect, the paired hop's event."""
        events = self.expire(request.time)
        url = urls.parse(request.url)
        if url is None:
            return events
        self.flows.request(request, url)
        if not self._clients.get(request.client) or _preflight(request):
            return events
        upgraded = False
        match = self._take(request, (request.client, _target(url.key)))
        if match is None and (variant := urls.http_variant(url)) is not None:
            match = self._take(request, (request.client, _target(variant)))
            upgraded = match is not None
        if match is None:
            return events
        entry, pairing, tied = match
        self.stats.followed += 1
        chain = entry.chain
        revisit = chain.visit(request.method, _target(url.key))
        chain.left_origin = self._left_origin(chain, url)
        self._remember_inflight(request.flow_id, entry, revisit)
        hop_facts = self._followup_facts(entry, request, url, upgraded)
        alternatives = tuple(self._followup_facts(other, request, url, upgraded) for other in tied)
        event = self._event("followup", hop_facts, entry, request.client, request.flow_id, request.time)
        event.user_agent, event.pairing, event.alternatives = request.user_agent, pairing, alternatives
        event.oauth_flow = entry.original.oauth_flow
        events.append(event)
        return events

    def response(self, request: Request, response: Response) -> list[Event]:
        """A response came. A redirect's event is the first of its facts' readers; a redirect with a usable
        Location then waits for its follow-up, unless the response was withheld from the client when it was
        recorded (`withhold` says so of a live one)."""
        events = self.expire(response.time)
        followed, revisit = self._inflight.pop(request.flow_id, (None, False))
        chain, previous_hop = (followed.chain, followed.hop) if followed else (None, 0)
        set_cookies = header_values(response.headers, "set-cookie")
        start = urls.parse(request.url) if set_cookies or response.status in REDIRECT_STATUSES else None
        if set_cookies and start is not None:
            self.cookies.learn(request.client, start.host, set_cookies)
        if response.status not in REDIRECT_STATUSES:
            return events
        self.stats.redirects += 1
        if chain is None:
            chain = _Chain(request.flow_id, start.origin if start else "")
            chain.visit(request.method, _target(start.key if start else request.url))
        loop = revisit and not chain.looped  # back at a request of the chain, and redirected again
        chain.looped = chain.looped or loop
        credentials = credentials_of(request, self.policy)
        self.stats.unparsed_bodies += credentials.unparsed
        chain.carried_secrets = chain.carried_secrets or credentials.any
        hop = previous_hop + 1
        context = F.Redirect(request, response, hop, credentials, chain.carried_secrets, loop, self.policy, self.flows)
        facts = F.Facts(context)
        entry = Pending((), chain, hop, None, request.flow_id)
        event = self._event("response", facts, entry, request.client, None, response.time)
        event.user_agent = request.user_agent
        events.append(event)
        if facts["location_state"] != "ok":
            return events
        event.oauth_flow = self.flows.location(request, context.target, request.flow_id)  # the login it belongs to
        if not response.withheld:
            kept = self._kept({name: facts[name] for name in self.keep})
            entry.original = F.Original(
                kept, request.body.detach(), credentials, start.origin_only() if start else None, response.time,
                request.connection, request.user_agent, event.oauth_flow,
            )  # fmt: skip
            targets = urls.readings(request.url, context.raw)
            entry.keys = tuple(dict.fromkeys((request.client, _target(target.key)) for target in targets))
            entry.size = ENTRY_BYTES + sum(len(value) for value in kept.values() if isinstance(value, str))
            self._add(entry)
        return events

    def completed(self, request: Request, response: Response) -> list[Event]:
        """An exchange whose response is whole (its body, where it matters for a login): the steps of logins it is,
        as `flow` events."""
        url = urls.parse(request.url)
        if url is None:
            return []
        locations = response.locations if response.status in REDIRECT_STATUSES else []
        target = urls.resolve(request.url, locations[0]) if locations else None
        events = []
        for step in self.flows.completed(request, response, url, target):
            facts = F.Facts(F.FlowStep(step, self.policy))
            position = ChainPosition(step.flow.id, 1)
            event = Event("flow", facts, request.client, position, request.flow_id, None, response.time)
            event.user_agent, event.oauth_flow = request.user_agent, step.flow.id
            events.append(event)
        return events

    def withhold(self, flow_id: str) -> None:
        """The 3xx of this flow was kept from its client (block mode replaced it): nobody will follow it."""
        if (seq := self._by_redirect.get(flow_id)) is not None:
            self._forget(seq, self._pending.pop(seq))

    def error(self, flow_id: str) -> None:
        """A flow ended without a (whole) response: it will not continue a chain; and a 3xx cut off after its
        headers never reached its client, which will not follow it."""
        self._inflight.pop(flow_id, None)
        self.withhold(flow_id)

    def stopped(self, flow_id: str) -> None:
        """Block mode stopped this follow-up: its redirect waits again, so that a client retrying it (curl does,
        on a connection that died) is judged, and stopped, again. Only stopped follow-ups came: when it
        expires it is no `not-followed`."""
        followed, _ = self._inflight.pop(flow_id, (None, False))
        if followed is not None:
            followed.stopped = True
            self._add(followed)

    def expire(self, now: float) -> list[Event]:
        """Pending redirects older than the follow timeout become `no-followup` events."""
        events = []
        deadline = now - self.follow_timeout
        while self._pending:
            entry = next(iter(self._pending.values()))
            if entry.time > deadline:
                break
            if (event := self._unfollowed(self._pop_oldest(), now)) is not None:
                events.append(event)
        return events

    def finish(self, now: float) -> list[Event]:
        """End of input or shutdown: everything still pending was not followed."""
        events = []
        while self._pending:
            if (event := self._unfollowed(self._pop_oldest(), now)) is not None:
                events.append(event)
        self._inflight.clear()
        return events

    def _kept(self, facts: dict) -> dict:
        """The facts a pending redirect keeps: long texts cut (and counted), so that its memory is bounded."""
        if all(len(value) <= MAX_KEPT_TEXT for value in facts.values() if isinstance(value, str)):
            return facts
        self.stats.cut += 1
        return {
            name: value[:MAX_KEPT_TEXT] + "..." if isinstance(value, str) and len(value) > MAX_KEPT_TEXT else value
            for name, value in facts.items()
        }

    @staticmethod
    def _left_origin(chain: _Chain, url: urls.Url) -> bool:
        return chain.left_origin or url.origin != chain.first_origin

    def _followup_facts(self, entry: Pending, request: Request, url: urls.Url, upgraded: bool) -> F.Facts:
        left_origin = self._left_origin(entry.chain, url)
        context = F.Followup(entry.original, request, url, upgraded, left_origin, self.policy, self.cookies)
        return F.Facts(context, entry.original.facts)

    def _unfollowed(self, entry: Pending, now: float) -> Event | None:
        if entry.stopped:
            return None
        self.stats.not_followed += 1
        event = self._event("no-followup", F.Facts(None, entry.original.facts), entry, entry.client, None, now)
        event.user_agent, event.oauth_flow = entry.original.user_agent, entry.original.oauth_flow
        return event

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
        self._by_redirect[entry.redirect_flow] = self._seq
        for key in entry.keys:
            self._by_key.setdefault(key, {})[self._seq] = None
        self._clients[entry.client] = self._clients.get(entry.client, 0) + 1
        self._bytes += entry.size
        while len(self._pending) > self.max_pending or self._bytes > MAX_PENDING_BYTES:
            self._pop_oldest()
            self.stats.evicted += 1

    def _take(self, request: Request, key: Key) -> tuple[Pending, str, list[Pending]] | None:
        """The pending redirect this request follows, how it was chosen (`unique`: the only candidate,
        `matched`: the one that explained it best, `ambiguous`: several explained it equally, the oldest
        was taken), and the candidates tied with it."""
        entries = self._by_key.get(key)
        if not entries:
            return None
        agent = request.user_agent
        window = [(seq, self._pending[seq]) for seq in islice(entries, MAX_CANDIDATES)]
        candidates = [(seq, entry) for seq, entry in window if _same_program(entry.original.user_agent, agent)]
        if not candidates:
            return None
        if len(window) == 1:
            (seq, chosen), pairing, tied = candidates[0], "unique", []
        else:
            scores = [_score(entry, request, agent) for _, entry in candidates]
            best = max(scores)
            top = [candidate for candidate, score in zip(candidates, scores, strict=True) if score == best]
            seq, chosen = top[0]  # the oldest of the best
            pairing = "matched" if len(top) == 1 else "ambiguous"
            tied = [entry for _, entry in top[1:]]
        del self._pending[seq]
        self._forget(seq, chosen)
        return chosen, pairing, tied

    def _pop_oldest(self) -> Pending:
        seq, entry = self._pending.popitem(last=False)
        self._forget(seq, entry)
        return entry

    def _forget(self, seq: int, entry: Pending) -> None:
        self._bytes -= entry.size
        if self._by_redirect.get(entry.redirect_flow) == seq:
            del self._by_redirect[entry.redirect_flow]
        for key in entry.keys:
            entries = self._by_key[key]
            del entries[seq]
            if not entries:
                del self._by_key[key]
        remaining = self._clients[entry.client] - 1
        if remaining:
            self._clients[entry.client] = remaining
        else:
            del self._clients[entry.client]

    def _remember_inflight(self, flow_id: str, entry: Pending, revisit: bool) -> None:
        self._inflight[flow_id] = (entry, revisit)
        while len(self._inflight) > self.max_pending:
            self._inflight.popitem(last=False)
