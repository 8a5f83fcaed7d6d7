"""Redirect chains as the reports draw them: every hop (clean or not) with its findings. URLs are redacted,
and all text is printable.

Bounded: at most `max_chains` chains are kept, MAX_HOPS hops of each, MAX_BYTES of URLs in all. A new chain takes
the place of the chain without findings least recently active; a chain with findings is never given up for one
without, so when every kept chain has findings, a new one is not kept. What is not kept is counted (`left_out`,
`findings_left_out`), so the report can say what it does not draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..auditor import Finding
from ..engine.facts import MAX_REDIRECTS
from ..engine.model import Event, Severity, printable

MAX_HOPS = MAX_REDIRECTS + 2  # drawn per chain: one past Fetch's limit shows a loop or an overlong chain
MAX_BYTES = 8 * 1024 * 1024  # the URLs kept for drawing, all chains together: memory bounded in bytes too


@dataclass
class Hop:
    number: int
    status: int
    method: str
    url: str
    location: str | None
    followup_method: str | None = None
    followup_url: str | None = None
    followed: bool | None = None  # None: still waiting (or the chain ended at a blocked 3xx)
    findings: list[Finding] = field(default_factory=list)

    @property
    def worst(self) -> str | None:
        return max((Severity(f.severity) for f in self.findings), default=None)

    @property
    def size(self) -> int:
        """The bytes its texts hold, about."""
        return len(self.url) + len(self.location or "") + len(self.followup_url or "") + len(self.method)


@dataclass
class Chain:
    id: str
    client: str
    hops: list[Hop] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [finding for hop in self.hops for finding in hop.findings]

    @property
    def worst(self) -> str | None:
        return max((Severity(f.severity) for f in self.findings), default=None)


class ChainLog:
    def __init__(self, redact: Callable[[str | None], str | None], max_chains: int = 2000) -> None:
        self.redact = redact
        self.max_chains = max_chains
        self.chains: dict[str, Chain] = {}
        self._clean: dict[str, None] = {}  # kept chains without findings, least recently active first
        self._bytes = 0  # what the kept hops' URLs hold
        self.seen = 0  # chains seen, kept or not
        self.findings_left_out = 0

    @property
    def left_out(self) -> int:
        """Chains seen and not kept."""
        return self.seen - len(self.chains)

    def observe(self, event: Event, findings: list[Finding]) -> None:
        key = event.position.chain
        starts = event.stage == "response" and event.position.hop == 1  # each chain's first event
        self.seen += starts
        chain = self.chains.get(key)
        if chain is None and (starts or findings):  # a later clean hop of a chain given up adds nothing
            chain = self._admit(key, event.client)
        hop = self._hop(chain, event) if chain is not None else None
        if hop is None:
            self.findings_left_out += len(findings)
            return
        facts = event.facts
        if event.stage == "followup":
            hop.followup_method = printable(facts["followup_method"])
            hop.followup_url = self.redact(facts["followup_url"])
            self._bytes += len(hop.followup_url or "")
            hop.followed = True
        elif event.stage == "no-followup":
            hop.followed = False
        hop.findings.extend(findings)
        if findings:
            self._clean.pop(key, None)
        elif key in self._clean:
            self._clean[key] = self._clean.pop(key)  # active again: given up last

    def _admit(self, key: str, client: str) -> Chain | None:
        while len(self.chains) >= self.max_chains or self._bytes > MAX_BYTES:
            if not self._clean:
                return None
            oldest = next(iter(self._clean))
            del self._clean[oldest]
            self._bytes -= sum(hop.size for hop in self.chains.pop(oldest).hops)
        chain = self.chains[key] = Chain(printable(key), client)
        self._clean[key] = None
        return chain

    def _hop(self, chain: Chain, event: Event) -> Hop | None:
        """The chain's hop of this event, added if new; None past MAX_HOPS."""
        hop = next((h for h in reversed(chain.hops) if h.number == event.position.hop), None)
        if hop is not None or len(chain.hops) >= MAX_HOPS:
            return hop
        facts = event.facts
        hop = Hop(
            event.position.hop,
            facts["status"],
            printable(facts["original_method"]),
            self.redact(facts["redirect_url"]),
            self.redact(facts["location"]),
        )
        chain.hops.append(hop)
        self._bytes += hop.size
        return hop
