"""The auditor: engine events judged by the rules in force, as findings. The one entry point adapters call.

Adapters feed requests and responses in the order the proxy (or a recording) saw them — one exchange at a time
with `audit`, or hook by hook with `request`, `response` and `error` — and findings come back in that order.
Only a live adapter can stop a flow: it says so (`live`), and a finding is `blocked` only then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from .engine.facts import REPORTED, URL_FACTS
from .engine.model import Event, Exchange, Request, Response, Severity, printable
from .engine.pairing import Pairing, Stats
from .engine.secrets import SecretPolicy, redact_url
from .rules.pack import Rule, RuleSet


def _doc(text: str, **options: Any) -> Any:
    """A field of the report, with what it holds (the reference lists it)."""
    return field(metadata={"doc": text}, **options)


@dataclass
class Finding:
    """One rule that fired: a record of the JSON Lines report. Each field says what it holds; docs/reference.md
    lists them with their JSON types (`scripts/reference.py`)."""

    rule: str = _doc("The rule's id.")
    severity: Severity = _doc(
        "`info`, `low`, `medium`, `high` or `critical`: the rule's, after overrides and escalations."
    )
    title: str = _doc("The rule's title.")
    action: str = _doc("`logged`, or `blocked` when the proxy stopped the bytes (block mode).")
    status: int = _doc("Status code of the redirect.")
    redirect_url: str = _doc("URL of the request answered with the 3xx (redacted).")
    location: str | None = _doc(
        "The Location resolved as a browser does (redacted); null when there is none to resolve."
    )
    original_method: str = _doc("Method of the request answered with the 3xx.")
    followup_method: str | None = _doc("Method of the follow-up; null without one.")
    followup_url: str | None = _doc("URL of the follow-up (redacted); null without one.")
    client: str = _doc("The client: its peer IP, or `recording` for a recording without one (a HAR file).")
    user_agent: str | None = _doc("The follow-up's User-Agent, else the redirected request's (cut to 256 characters).")
    chain: dict[str, Any] = _doc(
        '`{"id": flow id of the chain\'s first request, "hop": number of this redirect in the chain, from 1}`.'
    )
    flows: dict[str, str | None] = _doc(
        '`{"redirect": flow id of the 3xx, "followup": flow id of the follow-up, or null}`.'
    )
    pairing: str | None = _doc(
        "How the follow-up was paired: `unique` (the only redirect waiting for its target), `matched` (several; "
        "one explained it best), `ambiguous` (several explained it equally; the oldest was taken); null without a "
        "follow-up."
    )
    oauth_flow: str | None = _doc(
        "The OAuth, OpenID Connect or SAML login it belongs to: the flow id where its authorization request was first "
        "seen; null for a finding of no login."
    )
    references: list[str] = _doc("The rule's spec references.")
    evidence: dict[str, Any] = _doc(
        "The facts the rule's condition and escalations read, with their values: names and fingerprints, never a "
        "secret's value."
    )
    time: str = _doc("ISO 8601 UTC time of the event: the follow-up's start, the 3xx, or the expiry.")
    stage: str = _doc(
        "What the rule was judged on: `response`, `followup`, `no-followup` or `flow` (a step of a login).",
        repr=False,
        default="followup",
    )

    @property
    def flow(self) -> str | None:
        """The flow this finding is about, which it annotates: the follow-up, the 3xx judged alone, or a login's
        step (None for a redirect nobody followed: its flow is gone)."""
        return _flow_of(self.stage, self.flows["redirect"], self.flows["followup"])

    def record(self) -> dict[str, Any]:
        """What `dataclasses.asdict` gives, without its deep copy of every string and number (a finding holds only
        plain data, and is recorded once for the flow and once for the report)."""
        return {name: _copied(getattr(self, name)) for name in _FINDING_FIELDS}


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))


def _flow_of(stage: str, redirect_flow: str, followup_flow: str | None) -> str | None:
    if stage == "followup":
        return followup_flow
    return redirect_flow if stage in ("response", "flow") else None


def _copied(value: Any) -> Any:
    """A copy of plain data: new lists, tuples and dicts, the immutable values inside them shared."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copied(item) for item in value)
    return value


MAX_SHOWN_TEXT = 4096  # a longer URL or text is cut in findings: what a reader needs, in bounded memory


def shown_url(url: str | None, policy: SecretPolicy) -> str | None:
    """A URL as every output shows it: redacted, printable, and cut when long."""
    return _cut(redact_url(url, policy))


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_SHOWN_TEXT:
        return f"{value[:MAX_SHOWN_TEXT]}...(cut: {len(value) - MAX_SHOWN_TEXT} more characters)"
    return value


class _Shown:
    """An event's facts as findings show them — redacted, printable, cut — each worked out once for all the
    findings of the event."""

    def __init__(self, event: Event, policy: SecretPolicy) -> None:
        self._facts, self._policy, self._shown = event.facts, policy, {}

    def __call__(self, name: str) -> Any:
        if name not in self._shown:
            value = self._facts.get(name)
            self._shown[name] = shown_url(value, self._policy) if name in URL_FACTS else _cut(printable(value))
        return self._shown[name]


def finding_for(rule: Rule, event: Event, shown: _Shown) -> Finding:
    """A finding fit to write anywhere: URLs are redacted, evidence holds names and fingerprints only, and
    text that was not UTF-8 is printable."""
    return Finding(
        rule=rule.id,
        severity=rule.severity_for(event.facts),
        title=rule.title,
        action="logged",
        status=event.facts["status"],
        redirect_url=shown("redirect_url"),
        location=shown("location"),
        original_method=shown("original_method"),
        followup_method=shown("followup_method"),
        followup_url=shown("followup_url"),
        client=event.client,
        user_agent=printable(event.user_agent),
        chain={"id": event.position.chain, "hop": event.position.hop},
        flows={"redirect": event.redirect_flow, "followup": event.followup_flow},
        pairing=event.pairing,
        oauth_flow=event.oauth_flow,
        references=list(rule.references),
        evidence={name: shown(name) for name in rule.facts},
        time=datetime.fromtimestamp(event.time, UTC).isoformat(timespec="milliseconds"),
        stage=event.stage,
    )


class Auditor:
    """A rule blocks when its action is `block`, or when `block_on` is set and its severity reaches it."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        follow_timeout: float = 30.0,
        flow_timeout: float = 600.0,
        max_pending: int = 10_000,
        policy: SecretPolicy | None = None,
        block_on: str | None = None,
    ) -> None:
        self.pairing = Pairing(follow_timeout, max_pending, policy, flow_timeout)
        self.rules = rules
        self.block_on = Severity(block_on) if block_on else None
        self.observers: list[Callable[[Event, list[Finding]], None]] = []  # see every event, e.g. for chains

    @property
    def rules(self) -> RuleSet:
        return self._rules

    @rules.setter
    def rules(self, rules: RuleSet) -> None:
        self._rules = rules
        # what a pending redirect must keep of its 3xx: what later stages' rules read, and what reports show
        self.pairing.keep = REPORTED | rules.facts_read("followup", "no-followup")

    @property
    def policy(self) -> SecretPolicy:
        return self.pairing.policy

    @property
    def stats(self) -> Stats:
        return self.pairing.stats

    def audit(self, exchanges: Iterable[Exchange], stop: Callable[[], bool] = lambda: False) -> Iterator[list[Finding]]:
        """A recording, exchange by exchange: the findings of each (its request, then its response or the lack of
        one), and last those of the redirects still waiting, not followed by the end. The reading ends with the
        exchanges, when `stop()` says so, or when the exchanges raise: the error then goes on to the caller, after
        the last findings."""
        last_time = 0.0
        try:
            for request, response in exchanges:
                last_time = max(last_time, request.time)
                findings = self.request(request)
                if response is None:
                    findings += self.error(request.flow_id)
                else:
                    findings += self.response(request, response) + self.completed(request, response)
                yield findings
                if stop():
                    break
        except Exception:
            yield self.finish(last_time)
            raise
        yield self.finish(last_time)

    def request(self, request: Request, live: bool = False) -> list[Finding]:
        """A request; `live`: it can still be stopped, so its own follow-up findings may block it."""
        findings = self._judge(self.pairing.request(request), request.flow_id if live else None)
        if any(f.action == "blocked" for f in findings):
            self.pairing.stopped(request.flow_id)
        return findings

    def response(self, request: Request, response: Response, live: bool = False) -> list[Finding]:
        """A response; `live`: it can still be replaced, so findings on the 3xx alone may block it."""
        findings = self._judge(self.pairing.response(request, response), request.flow_id if live else None)
        if any(f.action == "blocked" for f in findings):  # a blocked 3xx never reaches the client
            self.pairing.withhold(request.flow_id)
        return findings

    def completed(self, request: Request, response: Response) -> list[Finding]:
        """A response that is whole, its body read where a login's step needs it (never blocked: it has left)."""
        return self._judge(self.pairing.completed(request, response))

    def error(self, flow_id: str) -> list[Finding]:
        """The flow's request got no (whole) response."""
        self.pairing.error(flow_id)
        return []

    def expire(self, now: float) -> list[Finding]:
        return self._judge(self.pairing.expire(now))

    def finish(self, now: float) -> list[Finding]:
        return self._judge(self.pairing.finish(now))

    def blocks(self, rule: Rule, severity: Severity) -> bool:
        if rule.action == "block":
            return True
        return self.block_on is not None and severity >= self.block_on

    def _judge(self, events: list[Event], live_flow: str | None = None) -> list[Finding]:
        """Findings of the events; those about `live_flow`, which the adapter can still stop, are `blocked` when
        their rule blocks."""
        judged = []
        for event in events:
            own = live_flow is not None and _flow_of(event.stage, event.redirect_flow, event.followup_flow) == live_flow
            shown = _Shown(event, self.policy)
            findings = []
            for rule in self.rules.matching(event.stage, event.facts):
                finding = finding_for(rule, event, shown)
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
