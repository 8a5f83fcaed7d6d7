"""OAuth, OpenID Connect and SAML logins as the HTML report draws them: each login one sequence of steps between the
client, the relying party and the authorization server, with the verdicts beside the step they concern.

Fed by every event that belongs to a login (`Event.oauth_flow`): the redirects that carry its authorization request
or answer it, their follow-ups, and the steps only a login has (`flow` events). Bounded: MAX_LOGINS logins, MAX_STEPS
steps each; URLs come redacted and cut, as every output shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..auditor import Finding
from ..engine.model import Event, Severity, printable

MAX_LOGINS = 500
MAX_STEPS = 40
_EVENT_NAMES = {"response": "redirect", "no-followup": "not followed"}
_STEP_NAMES = {
    "authorization-request": "authorization request answered",
    "authorization-response": "authorization response",
    "token-response": "token request answered",
    "referer": "request to another origin with a Referer",
}


@dataclass
class Step:
    exchange: str  # the flow id of the exchange it is: one row, whatever the login saw in it
    name: str
    method: str
    url: str | None
    status: int
    target: str | None  # where it sends the client, if anywhere
    findings: list[Finding] = field(default_factory=list)

    @property
    def worst(self) -> Severity | None:
        return max((Severity(f.severity) for f in self.findings), default=None)


@dataclass
class Login:
    id: str
    client: str
    steps: list[Step] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [finding for step in self.steps for finding in step.findings]

    @property
    def worst(self) -> Severity | None:
        return max((Severity(f.severity) for f in self.findings), default=None)


class LoginLog:
    def __init__(self, redact: Callable[[str | None], str | None]) -> None:
        self.redact = redact
        self.logins: dict[str, Login] = {}
        self.left_out = 0  # logins seen beyond MAX_LOGINS

    def observe(self, event: Event, findings: list[Finding]) -> None:
        if event.oauth_flow is None:
            return
        login = self.logins.get(event.oauth_flow)
        if login is None:
            if len(self.logins) >= MAX_LOGINS:
                self.left_out += 1
                return
            login = self.logins[event.oauth_flow] = Login(printable(event.oauth_flow), event.client)
        if event.stage == "no-followup" and not findings:
            return
        facts = event.facts
        if event.stage == "followup":
            exchange, name = event.followup_flow, "follow-up"
        else:
            exchange = event.redirect_flow
            name = _STEP_NAMES[facts["oauth_step"]] if event.stage == "flow" else _EVENT_NAMES[event.stage]
        same = next((step for step in reversed(login.steps) if step.exchange == exchange), None)
        if same is not None:  # a redirect that is also a login's step: one row, both names
            same.name = same.name if name == "redirect" else name if same.name == "redirect" else f"{same.name}, {name}"
            same.findings.extend(findings)
            return
        if len(login.steps) >= MAX_STEPS:
            return
        if event.stage == "followup":
            step = Step(
                exchange, name, printable(facts["followup_method"]), self.redact(facts["followup_url"]), 0, None
            )
        else:
            url, target = self.redact(facts["redirect_url"]), self.redact(facts.get("location"))
            step = Step(exchange, name, printable(facts["original_method"]), url, facts["status"], target)
        step.findings.extend(findings)
        login.steps.append(step)
