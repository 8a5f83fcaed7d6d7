"""Logins reviewed on real traffic: a real proxy process, a small authorization server and relying party that
misbehave only when asked (harness/login_servers.py), requests and headless Chromium as the clients. Each rule fires
on its scenario and stays silent on its correct twin; recordings of a session give the same findings."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys

import pytest
import requests

from .harness.browser import chromium, page_context
from .harness.login_servers import LoginServers
from .harness.oidc import RelyingParty
from .harness.process import LOOPBACK_ONLY, ProxyProcess, free_port

LOGIN_RULES = {
    "oauth-redirect-uri-mismatch", "oauth-state-mismatch", "oauth-state-reused", "oauth-iss-missing",
    "oauth-iss-mismatch", "oauth-code-in-referer", "oauth-response-mode-ignored", "oauth-pkce-downgrade",
    "oauth-pkce-verifier-mismatch", "saml-relaystate-open-redirect",
}  # fmt: skip
STEP_PROBE = """rules:
  - id: step
    title: A step of a login
    severity: info
    on: flow
    description: Every step the proxy followed, with what it showed.
    when: {}
    evidence: [oauth_step, oauth_state, oauth_iss, oauth_pkce]
"""
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")


@pytest.fixture(scope="module")
def servers():
    with LoginServers() as started:
        yield started


@pytest.fixture
def proxy(tmp_path):
    started = ProxyProcess.cli(tmp_path, *LOOPBACK_ONLY, follow_timeout="5")
    yield started
    started.stop()


def session(proxy: ProxyProcess) -> requests.Session:
    client = requests.Session()
    client.trust_env = False
    client.proxies = {"http": proxy.url}
    return client


def findings(proxy: ProxyProcess) -> list[dict]:
    proxy.stop()
    return proxy.findings()


def serious(found: list[dict]) -> set[str]:
    return {f["rule"] for f in found if f["severity"] != "info"}


def log_in(client: requests.Session, servers: LoginServers, **query: str) -> requests.Response:
    """The authorization request, followed to the callback, as a browser would (requests follows the 302)."""
    return client.get(servers.authorize(**query), timeout=10)


def redeem(client: requests.Session, servers: LoginServers, answer: requests.Response, **form: str) -> int:
    code = dict(part.split("=", 1) for part in answer.url.split("?", 1)[1].split("&"))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": servers.rp + "/cb", **form}
    return client.post(servers.issuer + "/token", data=data, timeout=10).status_code


def test_a_correct_login_is_clean(servers, proxy):
    client = session(proxy)
    client.get(servers.issuer + "/.well-known/openid-configuration", timeout=10)
    answer = log_in(client, servers, code_challenge=CHALLENGE, code_challenge_method="S256", nonce="n-1")
    assert answer.status_code == 200 and "code=" in answer.url
    assert redeem(client, servers, answer, code_verifier=VERIFIER) == 200
    found = findings(proxy)
    assert not serious(found), found


@pytest.mark.parametrize(
    ("misbehave", "rule"),
    [
        ("other-path", "oauth-redirect-uri-mismatch"),
        ("drop-state", "oauth-state-mismatch"),
        ("change-state", "oauth-state-mismatch"),
        ("no-iss", "oauth-iss-missing"),
        ("other-iss", "oauth-iss-mismatch"),
    ],
)
def test_a_server_that_misbehaves_is_reported_and_its_twin_is_not(servers, tmp_path, misbehave, rule):
    verdicts = {}
    for twin in (misbehave, ""):
        workdir = tmp_path / (twin or "correct")
        workdir.mkdir()
        proxy = ProxyProcess.cli(workdir, *LOOPBACK_ONLY, follow_timeout="5")
        client = session(proxy)
        client.get(servers.issuer + "/.well-known/openid-configuration", timeout=10)
        log_in(client, servers, misbehave=twin)
        verdicts[twin] = findings(proxy)
    fired = [f for f in verdicts[misbehave] if f["rule"] == rule]
    assert fired and fired[0]["stage"] == "flow" and fired[0]["oauth_flow"]
    assert not serious(verdicts[""]) & LOGIN_RULES


def test_a_state_sent_twice_is_reused(servers, proxy):
    client = session(proxy)
    log_in(client, servers, state="same")
    log_in(client, servers, state="same", prompt="login")
    log_in(client, servers, state="fresh")
    reused = [f for f in findings(proxy) if f["rule"] == "oauth-state-reused"]
    assert len(reused) == 1


def test_form_post_asked_for_and_a_query_redirect_given(servers, tmp_path):
    for misbehave, expected in (("ignore-response-mode", True), ("", False)):
        workdir = tmp_path / (misbehave or "correct")
        workdir.mkdir()
        proxy = ProxyProcess.cli(workdir, *LOOPBACK_ONLY)
        log_in(session(proxy), servers, response_mode="form_post", misbehave=misbehave)
        assert ("oauth-response-mode-ignored" in {f["rule"] for f in findings(proxy)}) is expected


@pytest.mark.parametrize(
    ("authorize", "form", "rule"),
    [
        ({}, {"code_verifier": VERIFIER}, "oauth-pkce-downgrade"),
        ({"code_challenge": CHALLENGE, "code_challenge_method": "S256"}, {"code_verifier": "wrong"},
         "oauth-pkce-verifier-mismatch"),
    ],
)  # fmt: skip
def test_a_token_endpoint_that_skips_pkce(servers, tmp_path, authorize, form, rule):
    for misbehave, issued in (("accept-any-verifier", True), ("", False)):
        workdir = tmp_path / (misbehave or "correct")
        workdir.mkdir()
        proxy = ProxyProcess.cli(workdir, *LOOPBACK_ONLY)
        client = session(proxy)
        answer = log_in(client, servers, misbehave=misbehave, **authorize)
        assert (redeem(client, servers, answer, **form) == 200) is issued
        assert (rule in {f["rule"] for f in findings(proxy)}) is issued


@pytest.mark.parametrize(("policy", "leaks"), [("unsafe-url", True), ("meta:unsafe-url", True), ("", False)])
def test_a_callback_page_that_leaks_its_code_to_another_origin(servers, proxy, policy, leaks):
    """Chromium loads the callback page, which loads an image from another origin: under `unsafe-url` the Referer
    is the whole callback URL, code included; under the default policy only the origin."""
    with chromium(proxy.url) as browser, page_context(browser) as context:
        page = context.new_page()
        page.goto(servers.authorize(redirect=f"/cb?policy={policy}"))
        page.wait_for_load_state("networkidle")
    sent = [h.get("Referer", "") for origin, _, path, h in servers.seen if path == "/pixel.gif"]
    assert sent and ("code=" in sent[-1]) is leaks  # what Chromium really sent
    found = [f for f in findings(proxy) if f["rule"] == "oauth-code-in-referer"]
    assert bool(found) is leaks
    if leaks:
        assert found[0]["evidence"]["oauth_referrer_policy"] == "unsafe-url"
        assert [value.split(" ")[0] for value in found[0]["evidence"]["oauth_referer_values"]][:1] == ["code"]


@pytest.mark.parametrize(("relay", "fires"), [("{issuer}/landing", True), ("/dashboard", False)])
def test_a_saml_service_provider_that_follows_any_relaystate(servers, proxy, relay, fires):
    relay = relay.format(issuer=servers.issuer)
    answer = session(proxy).post(servers.rp + "/acs", data={"SAMLResponse": "PHNhbWw+", "RelayState": relay},
                                 allow_redirects=False, timeout=10)  # fmt: skip
    assert answer.status_code == 302
    rules = {f["rule"] for f in findings(proxy)}
    assert ("saml-relaystate-open-redirect" in rules) is fires
    assert "open-redirect" not in rules


def test_recordings_of_a_login_give_the_same_findings(servers, tmp_path):
    """The leaking callback in Chromium, saved by the proxy (--save) and by the browser (HAR): analyze gives the
    live session's login findings from both."""
    saved, har = tmp_path / "login.mitm", tmp_path / "login.har"
    proxy = ProxyProcess.cli(tmp_path, *LOOPBACK_ONLY, "--save", str(saved))
    client = session(proxy)
    client.get(servers.issuer + "/.well-known/openid-configuration", timeout=10)
    with chromium(proxy.url) as browser, page_context(browser, record_har_path=str(har)) as context:
        page = context.new_page()
        page.goto(servers.issuer + "/.well-known/openid-configuration")
        page.goto(servers.authorize(redirect="/cb?policy=unsafe-url", misbehave="no-iss"))
        page.wait_for_load_state("networkidle")
    live = {f["rule"] for f in findings(proxy)} & LOGIN_RULES
    assert live == {"oauth-code-in-referer", "oauth-iss-missing"}
    for recording in (saved, har):
        report = tmp_path / f"{recording.suffix[1:]}.jsonl"
        done = subprocess.run([sys.executable, "-m", "redirect_audit.cli.main", "analyze", str(recording),
                               "--report", str(report)], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        analysed = {json.loads(line)["rule"] for line in report.read_text().splitlines()}
        assert analysed & LOGIN_RULES == live, recording


def test_a_certified_openid_provider_and_its_relying_party_are_clean(tmp_path):
    """panva's oidc-provider (OpenID-certified) and an Authlib relying party, driven by Chromium through the proxy:
    a full code flow with PKCE, state and nonce, the login and consent pages, the token request through the proxy;
    then a second login that the provider answers at once from its session. Every step is followed, and nothing is
    above info."""
    probe = tmp_path / "steps.yaml"
    probe.write_text(STEP_PROBE)
    proxy = ProxyProcess.cli(tmp_path, *LOOPBACK_ONLY, "--rules", str(probe), follow_timeout="5")
    try:
        with RelyingParty(proxy.url, free_port()) as party, chromium(proxy.url) as browser, \
                page_context(browser) as context:  # fmt: skip
            page = context.new_page()
            page.goto(party.origin + "/login")
            page.fill("input[name=login]", "alice")
            page.fill("input[name=password]", "anything")
            page.click("button[type=submit]")
            page.click("button[type=submit]")  # consent
            page.wait_for_url(party.origin + "/cb*")
            page.goto(party.origin + "/login")  # the provider's session answers at once
            page.wait_for_url(party.origin + "/cb*")
            assert party.token_statuses == [200, 200]
    finally:
        found = findings(proxy)
    assert not serious(found), [(f["rule"], f["redirect_url"]) for f in found if f["severity"] != "info"]
    steps = sorted(tuple(f["evidence"].values()) for f in found if f["rule"] == "step")
    assert steps == sorted(
        [("authorization-request", None, None, None)] * 2
        + [("authorization-response", "matched", "present", None)] * 2
        + [("token-response", None, None, "matched")] * 2
    )
    assert len({f["oauth_flow"] for f in found if f["rule"] == "step"}) == 2  # two logins
