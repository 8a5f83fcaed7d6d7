"""`redirect-audit demo`: the whole product on a small embedded world, for a newcomer.

A scenario upstream on two loopback origins, `redirect-audit proxy` as a real process on a free port,
and real clients driven through it; then a table of which rules fired for which client, the proxy's
summary, and where the report is.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from .clients import DEMO_CLIENTS, available_clients, missing, send
from .proxy import ProxyProcess
from .tls import self_signed
from .upstream import ScenarioUpstream


@dataclass(frozen=True)
class Scenario:
    name: str
    story: str
    method: str
    path: str  # with {tag}: a query fragment that makes every URL of one (scenario, client) unique;
    # "" for a redirect the server fixes itself to the other origin, with status `cross_origin`
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cross_origin: int = 0


WEBHOOK = json.dumps({"event": "invoice.paid", "lines": ["x" * 1000] * 1000}).encode()  # about 1 MB

SCENARIOS = (
    Scenario(
        "webhook-307",
        "API gateway answers a 1 MB JSON webhook POST with 307 to /v2",
        "POST",
        "/redirect?status=307&to={to}",
        WEBHOOK,
        "application/json",
    ),
    Scenario(
        "form-303",
        "form POST answered 303 See Other (Post/Redirect/Get)",
        "POST",
        "/redirect?status=303&to={to}",
        b"name=alice&qty=2",
        "application/x-www-form-urlencoded",
    ),
    Scenario(
        "form-302",
        "form POST answered 302 Found",
        "POST",
        "/redirect?status=302&to={to}",
        b"name=alice&qty=2",
        "application/x-www-form-urlencoded",
    ),
    Scenario(
        "api-301-put",
        "API answers a PUT with 301 to its new path",
        "PUT",
        "/redirect?status=301&to={to}",
        b'{"qty": 3}',
        "application/json",
    ),
    Scenario("head-302", "uptime monitor's HEAD meets a 302", "HEAD", "/redirect?status=302&to={to}"),
    Scenario("marketing-302", "302 marketing redirect of a GET page", "GET", "/redirect?status=302&to={to}"),
    Scenario(
        "login-307",
        "identity provider answers the login POST with 307 to the client site",
        "POST",
        "",
        b"username=alice&password=correct-horse",
        "application/x-www-form-urlencoded",
        cross_origin=307,
    ),
    Scenario(
        "login-303",
        "the same login answered with 303, as RFC 9700 asks",
        "POST",
        "",
        b"username=alice&password=correct-horse",
        "application/x-www-form-urlencoded",
        cross_origin=303,
    ),
    Scenario(
        "api-302-credentials",
        "API call with Authorization, Cookie and X-API-Key redirected to another host",
        "GET",
        "",
        headers=(("Authorization", "Bearer eyJ-demo"), ("Cookie", "session=s3ss10n"), ("X-API-Key", "demo-key-123")),
        cross_origin=302,
    ),
    Scenario("no-location", "a 302 that forgot its Location", "GET", "/redirect?status=302&{tag}"),
    Scenario("loop", "two pages that redirect to each other", "GET", "/loop/a?{tag}"),
    Scenario("long-chain", "a chain of 22 redirects", "GET", "/chain/22?{tag}"),
)


def _tag(scenario: Scenario, client: str) -> str:
    return f"s={scenario.name}&c={client}"


def _url(upstream: ScenarioUpstream, scenario: Scenario, client: str) -> str:
    tag = _tag(scenario, client)
    if scenario.cross_origin:
        return upstream.go(scenario.cross_origin, upstream.url(f"/result?{tag}", 1)) + f"?{tag}"
    target = quote(f"/result?{tag}", safe="")
    return upstream.url(scenario.path.format(tag=tag, to=f"{target}&{tag}"))


def _owner(url: str) -> tuple[str, str] | None:
    query = parse_qs(urlsplit(url).query)
    if "s" in query and "c" in query:
        return query["s"][0], query["c"][0]
    return None


def run_demo(out=sys.stdout, https: bool = False) -> int:
    """`https`: the upstream serves https with a certificate made here; the clients trust the proxy's CA."""
    workdir = Path(tempfile.mkdtemp(prefix="redirect-audit-demo-"))
    clients = available_clients()
    print(f"redirect-audit demo: {len(SCENARIOS)} scenarios x {len(clients)} clients ({', '.join(clients)})", file=out)
    for client in DEMO_CLIENTS:
        if client not in clients:
            print(f"  skipped {client}: {missing(client)}", file=out)
    tls = self_signed(workdir) if https else None
    ca = str(workdir / "mitmproxy-ca-cert.pem") if https else None
    tls_options = ("--set", f"confdir={workdir}", "--set", "ssl_insecure=true") if https else ()
    with ScenarioUpstream(tls=tls) as upstream:
        html = workdir / "report.html"
        proxy = ProxyProcess.cli(workdir, "--html", str(html), *tls_options)
        try:
            print(f"proxy on {proxy.url}; upstream on {' and '.join(upstream.origins)}\n", file=out)
            outcomes = {}
            for scenario in SCENARIOS:
                headers = dict(scenario.headers)
                if scenario.content_type:
                    headers["Content-Type"] = scenario.content_type
                for client in clients:
                    url = _url(upstream, scenario, client)
                    outcomes[scenario.name, client] = send(
                        client,
                        scenario.method,
                        url,
                        proxy=proxy.url,
                        headers=headers,
                        body=scenario.body,
                        timeout=15,
                        ca=ca,
                    )
        finally:
            proxy.stop(signal.SIGINT)
    findings: dict[tuple[str, str], list[str]] = {}
    for record in proxy.findings():
        owner = _owner(record["redirect_url"])
        if owner is not None and record["rule"] not in findings.setdefault(owner, []):
            findings[owner].append(record["rule"])
    _print_table(out, clients, outcomes, findings)
    output = proxy.output
    summary = output[output.find("redirect-audit summary") :] if "redirect-audit summary" in output else output
    print("\n" + summary.strip(), file=out)
    print(f"\nreport: {proxy.report}\nHTML report: {html}", file=out)
    example = next(iter(_all_rules(findings)), "method-changed")
    print(f"explain a rule: redirect-audit rules explain {example}", file=out)
    return 0


def _all_rules(findings: dict[tuple[str, str], list[str]]) -> list[str]:
    return sorted({rule for rules in findings.values() for rule in rules if rule != "not-followed"})


def _print_table(out, clients, outcomes, findings) -> None:
    print(
        "What each client sent after each redirect, as the proxy judged it "
        "('clean': nothing fired; 'gave up': the client stopped, so its last redirect is not-followed):",
        file=out,
    )
    for scenario in SCENARIOS:
        print(f"\n  {scenario.name}: {scenario.story}", file=out)
        for client in clients:
            rules = findings.get((scenario.name, client), [])
            outcome = outcomes[scenario.name, client]
            verdict = ", ".join(rules) if rules else "clean"
            note = "" if outcome.ok else "  (gave up)"
            print(f"    {client:<13} {verdict}{note}", file=out)
