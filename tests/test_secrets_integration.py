"""Secrets across redirects on real traffic: real clients, a real proxy process, two loopback origins.
The verdicts are checked against what the upstream really received."""

from __future__ import annotations

import itertools
import json
import secrets
import signal
import urllib.error
import urllib.parse
import urllib.request

import pytest
from mitmproxy import io

from .harness.clients import send
from .harness.process import ProxyProcess

_tags = itertools.count()
CREDENTIAL_HEADERS = {"Authorization": "Bearer tok-AAA", "Cookie": "sid=sess-CCC", "X-API-Key": "key-KKK"}
LEAK_RULES = {
    "authorization": "authorization-cross-origin",
    "cookie": "cookie-cross-origin",
    "x-api-key": "secret-header-cross-origin",
}


def tag() -> str:
    return f"s{next(_tags)}"


@pytest.mark.parametrize("client", ["urllib", "requests", "httpx", "curl", "naive-get"])
def test_header_leak_verdicts_match_what_arrived(upstream, cli_proxy, client):
    t = tag()
    target = upstream.url(f"/echo?tag={t}", 1)  # the other origin
    result = send(client, "GET", upstream.go(302, target) + f"?tag={t}", proxy=cli_proxy.url,
                  headers=CREDENTIAL_HEADERS)  # fmt: skip
    assert result.ok, result.error
    (arrival,) = upstream.arrivals_at(f"/echo?tag={t}")
    leaked = {name for name in LEAK_RULES if arrival.header(name) == CREDENTIAL_HEADERS[_title(name)]}
    expected = {LEAK_RULES[name] for name in leaked}
    if expected:
        cli_proxy.wait_for(t, sorted(expected)[0])
    fired = {f["rule"] for f in cli_proxy.findings(t)} & set(LEAK_RULES.values())
    assert fired == expected, f"{client} sent {sorted(leaked)}"
    if client in ("requests", "httpx", "curl"):  # these strip Authorization and Cookie across origins
        assert not leaked & {"authorization", "cookie"}
    if client in ("urllib", "naive-get"):  # these forward them: flagged
        assert {"authorization-cross-origin", "cookie-cross-origin"} <= fired


def _title(name: str) -> str:
    return {"authorization": "Authorization", "cookie": "Cookie", "x-api-key": "X-API-Key"}[name]


def test_cookie_the_target_set_itself_is_not_flagged(upstream, cli_proxy):
    t = tag()
    # the target origin set sid for this client earlier, through the proxy
    assert send("urllib", "GET", upstream.url(f"/setcookie?cookie=sid%3Dsess-CCC%3B+Path%3D%2F&tag={t}", 1),
                proxy=cli_proxy.url).ok  # fmt: skip
    target = upstream.url(f"/echo?tag={t}", 1)
    assert send("urllib", "GET", upstream.go(302, target) + f"?tag={t}", proxy=cli_proxy.url,
                headers={"Cookie": "sid=sess-CCC", "Authorization": "Bearer x"}).ok  # fmt: skip
    cli_proxy.wait_for(t, "authorization-cross-origin")  # the same follow-up is judged...
    assert "cookie-cross-origin" not in {f["rule"] for f in cli_proxy.findings(t)}  # ...and its cookie is fine


def test_proxy_authorization_reaching_the_origin(upstream, cli_proxy):
    t = tag()
    target = upstream.url(f"/echo?tag={t}", 1)
    assert send("httpx", "GET", upstream.go(307, target) + f"?tag={t}", proxy=cli_proxy.url,
                headers={"Proxy-Authorization": "Basic dXNlcjpwYXNz"}).ok  # fmt: skip
    (arrival,) = upstream.arrivals_at(f"/echo?tag={t}")
    assert arrival.header("proxy-authorization")  # httpx kept it, and this proxy does not consume it
    cli_proxy.wait_for(t, "proxy-authorization-forwarded")


def test_login_307_credentials_with_a_real_client(upstream, cli_proxy):
    t = tag()
    callback = upstream.url(f"/callback?tag={t}", 1)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert send("requests", "POST", upstream.go(307, callback) + f"?tag={t}", proxy=cli_proxy.url, headers=form,
                body=b"username=alice&password=pw-123").ok  # fmt: skip
    found = cli_proxy.wait_for(t, "credentials-forwarded")
    rules = {f["rule"]: f for f in found}
    assert rules["credential-post-307"]["evidence"]["original_body_credentials"] == ["form:password"]
    assert rules["credentials-forwarded"]["severity"] == "critical"
    # the near miss: the same login answered with 303
    t2 = tag()
    assert send("requests", "POST", upstream.go(303, upstream.url(f"/callback?tag={t2}", 1)) + f"?tag={t2}",
                proxy=cli_proxy.url, headers=form, body=b"username=alice&password=pw-123").ok  # fmt: skip
    (arrival,) = upstream.arrivals_at(f"/callback?tag={t2}")
    assert arrival.method == "GET" and b"pw-123" not in arrival.body
    assert [f["rule"] for f in cli_proxy.findings(t2) if f["severity"] != "info"] == []


def test_block_on_high_keeps_the_password_from_the_callback(upstream, tmp_path):
    proxy = ProxyProcess.cli(tmp_path, "--block-on", "high")
    try:
        t = tag()
        callback = upstream.url(f"/callback?tag={t}", 1)
        result = send("requests", "POST", upstream.go(307, callback) + f"?tag={t}", proxy=proxy.url,
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      body=b"username=alice&password=pw-456")  # fmt: skip
        assert result.ok and result.status == 403
        (finding,) = [f for f in proxy.findings(t) if f["rule"] == "credential-post-307"]
        assert finding["action"] == "blocked"
    finally:
        proxy.stop()
    assert upstream.arrivals_at(f"/callback?tag={t}") == []  # the client never followed
    assert "[HIGH] BLOCKED credential-post-307" in proxy.output


def test_blocking_rule_stops_the_followup_before_the_upstream(upstream, tmp_path):
    rules = tmp_path / "block.yaml"
    rules.write_text("overrides:\n  authorization-cross-origin: {action: block}\n")
    proxy = ProxyProcess.cli(tmp_path, "--rules", str(rules))
    try:
        t = tag()
        target = upstream.url(f"/echo?tag={t}", 1)
        blocked = send("urllib", "GET", upstream.go(302, target) + f"?tag={t}", proxy=proxy.url,
                       headers={"Authorization": "Bearer tok-ZZZ"})  # fmt: skip
        assert blocked.status == 403
        assert upstream.arrivals_at(f"/echo?tag={t}") == []  # the follow-up never reached the upstream
        (finding,) = [f for f in proxy.findings(t) if f["rule"] == "authorization-cross-origin"]
        assert finding["action"] == "blocked"
    finally:
        proxy.stop()


def test_blocked_response_names_the_rule(upstream, tmp_path):
    proxy = ProxyProcess.cli(tmp_path, "--block-on", "medium")
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}), _NoFollow())
        url = upstream.go(302, "javascript:alert(1)")
        try:
            opener.open(url, timeout=10)
            raise AssertionError("expected 403")
        except urllib.error.HTTPError as error:
            assert error.code == 403
            assert error.headers["X-Redirect-Audit"] == "blocked; rule=location-bad-scheme; severity=medium"
            page = error.read().decode()
            assert "location-bad-scheme (medium): Location with a non-HTTP scheme" in page
            assert "Fetch refuses to follow it" in " ".join(page.split())  # the rule's description
    finally:
        proxy.stop()


class _NoFollow(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_no_secret_in_any_output(upstream, tmp_path):
    """Plant a distinct secret in every place one can ride; none may appear in any byte the tool wrote."""
    planted = {place: f"PLANT-{place}-{secrets.token_hex(6)}" for place in (
        "query", "form", "json", "multipart", "authorization", "cookie", "proxyauth", "apikey", "location",
        "userinfo", "fragment",
    )}  # fmt: skip
    saved = tmp_path / "session.mitm"
    proxy = ProxyProcess.cli(tmp_path, "--save", str(saved))
    t = tag()
    other = upstream.origins[1]
    try:
        headers = {
            "Authorization": f"Bearer {planted['authorization']}",
            "Cookie": f"sid={planted['cookie']}",
            "Proxy-Authorization": f"Basic {planted['proxyauth']}",
            "X-API-Key": planted["apikey"],
        }
        token_target = f"{other}/cb?access_token={planted['location']}&tag={t}#id_token={planted['fragment']}"
        userinfo_target = f"http://alice:{planted['userinfo']}@127.0.0.2:{other.rsplit(':', 1)[1]}/u?tag={t}"
        query = f"?password={planted['query']}&tag={t}"
        cases = [
            ("naive-get", "GET", upstream.go(302, token_target) + query, None, {}),
            ("naive-get", "GET", upstream.go(302, userinfo_target) + f"?tag={t}", None, {}),
            ("naive-replay", "POST", upstream.go(307, f"{other}/f?tag={t}") + f"?tag={t}",
             f"password={planted['form']}".encode(), {"Content-Type": "application/x-www-form-urlencoded"}),
            ("naive-replay", "POST", upstream.go(307, f"{other}/j?tag={t}") + f"?tag={t}",
             json.dumps({"client": {"client_secret": planted["json"]}}).encode(), {"Content-Type": "application/json"}),
            ("naive-replay", "POST", upstream.go(308, f"{other}/m?tag={t}") + f"?tag={t}",
             f'--B\r\nContent-Disposition: form-data; name="pin"\r\n\r\n{planted["multipart"]}\r\n--B--\r\n'.encode(),
             {"Content-Type": "multipart/form-data; boundary=B"}),
            ("urllib", "GET", upstream.go(302, f"{other}/h?tag={t}") + f"?tag={t}", None, headers),
        ]  # fmt: skip
        for client, method, url, body, extra in cases:
            assert send(client, method, url, proxy=proxy.url, body=body, headers=extra).ok
    finally:
        proxy.stop(signal.SIGINT)
    rules = {f["rule"] for f in proxy.findings(t)}
    assert {
        "credentials-forwarded", "credential-post-307", "authorization-cross-origin", "cookie-cross-origin",
        "proxy-authorization-forwarded", "secret-header-cross-origin", "token-in-location", "location-confusing",
    } <= rules  # fmt: skip
    flows = list(io.FlowReader(saved.open("rb")).stream())
    annotations = json.dumps([[f.comment, f.metadata.get("redirect_audit", [])] for f in flows])
    written = {
        "report": proxy.report.read_text(),
        "console": proxy.output,
        "flow annotations": annotations,
    }
    for where, text in written.items():
        for place, secret in planted.items():
            assert secret not in text, f"the {place} secret appears in the {where}"
    assert "redacted:" in written["report"]
    # the capture itself keeps the traffic as recorded: it is the user's own
    assert any(planted["authorization"] in str(f.request.headers) for f in flows)


AUTHORIZE = "/authorize?response_type=code&client_id=app"
SERVER_SIDE = [
    # rule, Location the server sends, a near miss
    ("open-redirect", None, None),  # built below: the target comes from ?next=
    ("location-bad-scheme", "javascript:alert(document.domain)", "/javascript"),
    ("location-confusing", "/\\evil.example/", "/evil.example/"),
    ("token-in-location", "/cb?access_token=at-123&token_type=bearer", "/cb?code=c-123&state=s"),
    (
        "oauth-authorization-request-weak",
        AUTHORIZE,
        AUTHORIZE + "&state=s1&code_challenge=x&code_challenge_method=S256",
    ),
]


@pytest.mark.parametrize(("rule", "location", "near_miss"), SERVER_SIDE, ids=[r for r, _, _ in SERVER_SIDE])
def test_server_side_rules_on_real_traffic(upstream, cli_proxy, rule, location, near_miss):
    results = {}
    for kind, target in (("fires", location), ("near-miss", near_miss)):
        t = tag()
        if rule == "open-redirect":  # the server takes the target from a parameter: to another origin, or not
            other = upstream.url("/landing", 1) if kind == "fires" else "/landing"
            quoted = urllib.parse.quote(other, safe="")
            url = upstream.url(f"/redirect?status=302&to={quoted}&next={quoted}&tag={t}")
        else:
            url = upstream.go(302, target) + f"?tag={t}"
        assert send("curl", "GET", url, proxy=cli_proxy.url, follow=False).ok
        if kind == "fires":
            cli_proxy.wait_for(t, rule)
        results[kind] = {f["rule"] for f in cli_proxy.findings(t)}
    assert rule in results["fires"]
    assert rule not in results["near-miss"]
