"""The auditor: engine events judged by the rules in force, as findings. The one entry point adapters call.

Adapters feed requests and responses in the order the proxy (or a recording) saw them; findings come
back in that order. Whether a finding was blocked is the adapter's decision (only it holds a live flow).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from .engine.model import Event, Request, Response
from .engine.pairing import Pairing, Stats
from .rules.pack import Rule, RuleSet

SEVERITY_ORDER = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass
class Finding:
    """One rule that fired: a record of the JSON Lines report (see the README for the schema)."""

    rule: str
    severity: str
    title: str
    action: str  # logged | blocked
    status: int
    redirect_url: str
    location: str | None
    original_method: str
    followup_method: str | None
    followup_url: str | None
    client: str
    chain: dict[str, Any]  # {"id": ..., "hop": ...}
    flows: dict[str, str | None]  # {"redirect": flow id of the 3xx, "followup": flow id or null}
    references: list[str]
    evidence: dict[str, Any]
    time: str  # ISO 8601, UTC
    stage: str = field(repr=False, default="followup")

    def record(self) -> dict[str, Any]:
        return asdict(self)


def finding_for(rule: Rule, event: Event) -> Finding:
    facts = event.facts
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        title=rule.title,
        action="logged",
        status=facts["status"],
        redirect_url=facts["redirect_url"],
        location=facts["location"],
        original_method=facts["original_method"],
        followup_method=facts.get("followup_method"),
        followup_url=facts.get("followup_url"),
        client=event.client,
        chain={"id": event.position.chain, "hop": event.position.hop},
        flows={"redirect": event.redirect_flow, "followup": event.followup_flow},
        references=list(rule.references),
        evidence={name: facts.get(name) for name in rule.facts},
        time=datetime.fromtimestamp(event.time, UTC).isoformat(timespec="milliseconds"),
        stage=event.stage,
    )


class Auditor:
    def __init__(self, rules: RuleSet, *, follow_timeout: float = 30.0, max_pending: int = 10_000) -> None:
        self.rules = rules
        self.pairing = Pairing(follow_timeout=follow_timeout, max_pending=max_pending)

    @property
    def stats(self) -> Stats:
        return self.pairing.stats

    def request(self, request: Request) -> list[Finding]:
        return self._judge(self.pairing.request(request))

    def response(self, request: Request, response: Response) -> list[Finding]:
        return self._judge(self.pairing.response(request, response))

    def error(self, flow_id: str) -> None:
        self.pairing.error(flow_id)

    def expire(self, now: float) -> list[Finding]:
        return self._judge(self.pairing.expire(now))

    def finish(self, now: float) -> list[Finding]:
        return self._judge(self.pairing.finish(now))

    def _judge(self, events: list[Event]) -> list[Finding]:
        return [finding_for(rule, event) for event in events for rule in self.rules.matching(event.stage, event.facts)]
