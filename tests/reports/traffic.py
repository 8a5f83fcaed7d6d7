"""Findings for the reports' unit tests, made the way the product makes them: engine records (tests/exchanges.py)
through a real Auditor with the default rules and its one audit loop. Each scene is a list of exchanges, one
second apart, whose flow ids start with its name, so that a test reads which chain is which."""

from __future__ import annotations

from collections.abc import Iterable

from redirect_audit.auditor import Auditor, Finding
from redirect_audit.engine.model import Exchange
from redirect_audit.engine.secrets import SecretPolicy
from redirect_audit.rules.pack import RuleSet

from ..exchanges import req, resp

RULES = RuleSet.load()
KEY = b"redirect-audit reports tests key"
FORM = (("Content-Type", "application/x-www-form-urlencoded"),)
PASSWORD = "hunter2-Pa55"  # a secret the scenes send: no output may hold it
TOKEN = "tok-3xYz-secret"


def auditor(**settings) -> Auditor:
    """The default rules and a fixed fingerprint key (so fingerprints are the same in every run)."""
    return Auditor(RULES, policy=SecretPolicy(key=KEY), **settings)


def findings(exchanges: Iterable[Exchange], audit: Auditor | None = None) -> list[Finding]:
    """Every finding of the exchanges, in order, with those of the redirects nobody followed last."""
    audit = audit or auditor()
    return [finding for batch in audit.audit(exchanges) for finding in batch]


def live(exchanges: Iterable[Exchange], audit: Auditor) -> list[Finding]:
    """The exchanges as the proxy sees them live, calling the auditor as the addon does: flows it can still stop, so
    a blocking rule blocks (a blocked request gets no response); the redirects left waiting are not finished."""
    found = []
    for request, response in exchanges:
        now = audit.request(request, live=True)
        if not any(finding.action == "blocked" for finding in now):
            now += audit.response(request, response, live=True)
        found += now
    return found


def login_307(name: str = "login", time: float = 1000.0) -> list[Exchange]:
    """A login form POST answered 307 to another site, re-posted there: credential-post-307 on the 3xx (high),
    credentials-forwarded on the follow-up (critical)."""
    form = f"user=alice&password={PASSWORD}".encode()
    first = req("POST", "https://idp.example/login", form, headers=FORM, flow_id=name, time=time)
    again = req("POST", "https://app.example/cb", form, headers=FORM, flow_id=f"{name}-2", time=time + 1)
    return [(first, resp(307, "https://app.example/cb", time=time + 0.5)), (again, resp(200, None, time=time + 1.5))]


def clean(name: str = "clean", time: float = 2000.0, hops: int = 1, path: str = "") -> list[Exchange]:
    """A GET chain of `hops` 302s on one origin, followed to a 200: no findings."""
    urls = [f"https://shop.example/{path}{name}/{hop}" for hop in range(hops + 1)]
    exchanges = []
    for hop, url in enumerate(urls):
        request = req("GET", url, flow_id=f"{name}-{hop + 1}" if hop else name, time=time + hop)
        answer = resp(302, urls[hop + 1], time=time + hop + 0.5) if hop < hops else resp(200, None, time=time + hop)
        exchanges.append((request, answer))
    return exchanges


def unfollowed(name: str = "promo", time: float = 3000.0) -> list[Exchange]:
    """A 302 nobody follows: not-followed (info) at the end of the input."""
    return [(req("GET", "https://shop.example/promo", flow_id=name, time=time), resp(302, "/sale", time=time + 0.5))]


def token_location(name: str = "token", time: float = 4000.0, path: str = "") -> list[Exchange]:
    """A 302 whose Location carries an access token to another site (token-in-location, high), followed."""
    location = f"https://other.example/{path}cb?access_token={TOKEN}&view=1"
    first = req("GET", "https://app.example/done", flow_id=name, time=time)
    again = req("GET", location, flow_id=f"{name}-2", time=time + 1)
    return [(first, resp(302, location, time=time + 0.5)), (again, resp(200, None, time=time + 1.5))]
