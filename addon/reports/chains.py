"""Redirect chains as the reports draw them: every hop (clean or not) with its findings. URLs are redacted.

Bounded: at most `max_chains` chains are kept (the first ones seen, and every later chain that has a
finding while there is room); the rest are counted, so a report on a huge recording stays readable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..auditor import SEVERITY_ORDER, Finding
from ..engine.facts import MAX_REDIRECTS
from ..engine.model import Event


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
        return max((f.severity for f in self.findings), key=SEVERITY_ORDER.__getitem__, default=None)


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
        return max((f.severity for f in self.findings), key=SEVERITY_ORDER.__getitem__, default=None)


class ChainLog:
    def __init__(self, redact: Callable[[str | None], str | None], max_chains: int = 2000) -> None:
        self.redact = redact
        self.max_chains = max_chains
        self.chains: dict[str, Chain] = {}
        self.dropped = 0

    def observe(self, event: Event, findings: list[Finding]) -> None:
        chain = self.chains.get(event.position.chain)
        if chain is None:
            if len(self.chains) >= self.max_chains:
                self.dropped += event.stage == "response" and event.position.hop == 1
                return
            chain = self.chains[event.position.chain] = Chain(event.position.chain, event.client)
        facts = event.facts
        hop = next((h for h in reversed(chain.hops) if h.number == event.position.hop), None)
        if hop is None:
            if len(chain.hops) > MAX_REDIRECTS + 1:  # a loop: the picture needs no more
                return
            hop = Hop(
                event.position.hop,
                facts["status"],
                facts["original_method"],
                self.redact(facts["redirect_url"]),
                self.redact(facts["location"]),
            )
            chain.hops.append(hop)
        if event.stage == "followup":
            hop.followup_method = facts["followup_method"]
            hop.followup_url = self.redact(facts["followup_url"])
            hop.followed = True
        elif event.stage == "no-followup":
            hop.followed = False
        hop.findings.extend(findings)
