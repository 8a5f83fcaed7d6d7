"""The auditor: engine events judged by the rules in force, as findings. The one entry point adapters call.

Adapters feed requests and responses in the order the proxy (or a recording) saw them; findings come
back in that order. Whether a finding was blocked is the adapter's decision (only it holds a live flow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from .engine.facts import URL_FACTS
from .engine.model import Event, Request, Response, printable
from .engine.pairing import Pairing, Stats
from .engine.secrets import SecretPolicy, redact_url
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
    user_agent: str | None  # the follow-up's, else the redirected request's
    chain: dict[str, Any]  # {"id": ..., "hop": ...}
    flows: dict[str, str | None]  # {"redirect": flow id of the 3xx, "followup": flow id or null}
    pairing: str | None  # unique | matched | ambiguous; null without a follow-up
    references: list[str]
    evidence: dict[str, Any]
    time: str  # ISO 8601, UTC
    stage: str = field(repr=False, default="followup")

    def record(self) -> dict[str, Any]:
        """What `dataclasses.asdict` gives, without its deep copy of every string and number (a finding holds only
        plain data, and is recorded once for the flow and once for the report)."""
        return {name: _copied(getattr(self, name)) for name in _FINDING_FIELDS}


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))


def _copied(value: Any) -> Any:
    """A copy of plain data: new lists, tuples and dicts, the immutable values inside them shared."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copied(item) for item in value)
    return value


def finding_for(rule: Rule, event: Event, policy: SecretPolicy) -> Finding:
    """A finding fit to write anywhere: URLs are redacted, evidence holds names and fingerprints only, and
    text that was not UTF-8 is printable."""
    facts = event.facts

    def shown(name: str) -> Any:
        value = facts.get(name)
        return shown_url(value, policy) if name in URL_FACTS else _cut(printable(value))

    return Finding(
        rule=rule.id,
        severity=rule.severity_for(facts),
        title=rule.title,
        action="logged",
        status=facts["status"],
        redirect_url=shown("redirect_url"),
        location=shown("location"),
        original_method=_cut(printable(facts["original_method"])),
        followup_method=_cut(printable(facts.get("followup_method"))),
        followup_url=shown("followup_url"),
        client=event.client,
        user_agent=printable(event.user_agent),
        chain={"id": event.position.chain, "hop": event.position.hop},
        flows={"redirect": event.redirect_flow, "followup": event.followup_flow},
        pairing=event.pairing,
        references=list(rule.references),
        evidence={name: shown(name) for name in rule.facts},
        time=datetime.fromtimestamp(event.time, UTC).isoformat(timespec="milliseconds"),
        stage=event.stage,
    )


MAX_SHOWN_TEXT = 4096  # a longer URL or text is cut in findings: what a reader needs, in bounded memory


def shown_url(url: str | None, policy: SecretPolicy) -> str | None:
    """A URL as every output shows it: redacted, printable, and cut when long."""
    return _cut(redact_url(url, policy))


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_SHOWN_TEXT:
        return f"{value[:MAX_SHOWN_TEXT]}...(cut: {len(value) - MAX_SHOWN_TEXT} more characters)"
    return value


class Auditor:
    """`live` says whether the adapter can still stop the flow: only then may a finding be `blocked`.
    A rule blocks when its action is `block`, or when `block_on` is set and its severity reaches it."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        follow_timeout: float = 30.0,
        max_pending: int = 10_000,
        policy: SecretPolicy | None = None,
        block_on: str | None = None,
    ) -> None:
        self.rules = rules
        self.block_on = block_on
        self.pairing = Pairing(follow_timeout=follow_timeout, max_pending=max_pending, policy=policy)
        self.observers: list[Callable[[Event, list[Finding]], None]] = []  # see every event, e.g. for chains

    @property
    def policy(self) -> SecretPolicy:
        return self.pairing.policy

    @property
    def stats(self) -> Stats:
        return self.pairing.stats

    def request(self, request: Request, live: bool = False) -> list[Finding]:
        """A request; `live`: it can still be stopped, so its own follow-up findings may block it."""
        findings = self._judge(self.pairing.request(request), request.flow_id if live else None)
        if any(f.action == "blocked" for f in findings):
            self.pairing.stopped(request.flow_id)
        return findings

    def response(self, request: Request, response: Response, live: bool = False) -> list[Finding]:
        """A response; `live`: it can still be replaced, so findings on the 3xx alone may block it."""
        events, pending = self.pairing.response(request, response)
        findings = self._judge(events, request.flow_id if live else None)
        blocked = response.withheld or any(f.action == "blocked" and f.stage == "response" for f in findings)
        if pending is not None and not blocked:  # a blocked 3xx never reaches the client: nothing to follow
            self.pairing.wait(pending)
        return findings

    def blocks(self, rule: Rule, severity: str) -> bool:
        if rule.action == "block":
            return True
        return self.block_on is not None and SEVERITY_ORDER[severity] >= SEVERITY_ORDER[self.block_on]

    def error(self, flow_id: str) -> None:
        self.pairing.error(flow_id)

    def expire(self, now: float) -> list[Finding]:
        return self._judge(self.pairing.expire(now))

    def finish(self, now: float) -> list[Finding]:
        return self._judge(self.pairing.finish(now))

    def _judge(self, events: list[Event], live_flow: str | None = None) -> list[Finding]:
        """Findings of the events; those about `live_flow` (its own follow-up, or its 3xx alone), which the
        adapter can still stop, are `blocked` when their rule blocks."""
        judged = []
        for event in events:
            own = live_flow is not None and (
                (event.stage == "followup" and event.followup_flow == live_flow)
                or (event.stage == "response" and event.redirect_flow == live_flow)
            )
            findings = []
            for rule in self.rules.matching(event.stage, event.facts):
                finding = finding_for(rule, event, self.policy)
                if own and self.blocks(rule, finding.severity) and self._blocks_every_candidate(rule, event):
                    finding.action = "blocked"
                findings.append(finding)
            for observe in self.observers:
                observe(event, findings)
            judged += findings
        return judged

    def _blocks_every_candidate(self, rule: Rule, event: Event) -> bool:
        """An ambiguous pairing blocks only on a verdict that does not depend on which candidate was taken."""
        return all(rule.holds(facts) and self.blocks(rule, rule.severity_for(facts)) for facts in event.alternatives)
