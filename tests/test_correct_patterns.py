"""Correct patterns give no false finding, on named hosts behind a real proxy, with real clients and Chromium:
HTTPS enforcement by 307 on the same host, a login page that sets a cookie and redirects to itself, a cookie set
for the whole site before the proxy saw it. Their near misses still fire: a real cycle, a cookie to another site.
"""

from __future__ import annotations

import subprocess

import pytest
import requests

from redirect_audit.demo.tls import self_signed

from .harness.browser import chromium, page_context
from .harness.clients import send
from .harness.process import ProxyProcess
from .harness.upstream import ScenarioUpstream

LOGIN = "http://login.example.test"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CREDENTIALS = b"username=alice&password=pa55-upgrade"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    with ScenarioUpstream.virtual(self_signed(tmp_path_factory.mktemp("tls"), ("localhost",))) as server:
        yield server


def findings(proxy: ProxyProcess, tag: str) -> dict[str, list[dict]]:
    """The stopped proxy's findings for `tag`, by rule."""
    proxy.stop()
    found: dict[str, list[dict]] = {}
    for finding in proxy.findings(tag):
        found.setdefault(finding["rule"], []).append(finding)
    return found


def curl(proxy: ProxyProcess, *args: str) -> subprocess.CompletedProcess:
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "", "-x", proxy.url,
               "--cacert", proxy.ca, "--max-time", "10", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=20)


def upgraded_posts(upstream, path: str) -> list:
    return [a for a in upstream.arrivals_at(path) if a.origin == "https://login.example.test" and a.method == "POST"]


@pytest.mark.parametrize("client", ["curl", "requests"])
def test_https_enforcement_by_307_is_no_leak(upstream, tmp_path, client):
    """POST http://host/secure/... answered 307 to the same URL over https: the same server gets the form again,
    over TLS. Only that it crossed the network in clear is reported, and block mode lets the upgrade through."""
    tag = f"upgrade-{client}"
    path = f"/secure/session?tag={tag}"
    proxy = ProxyProcess.before(upstream, tmp_path, "--block-on", "high")
    if client == "curl":
        status = curl(proxy, "-L", "--data-binary", CREDENTIALS.decode(), LOGIN + path).stdout
    else:
        status = str(send("requests", "POST", LOGIN + path, proxy=proxy.url, headers=FORM, body=CREDENTIALS,
                          ca=proxy.ca).status)  # fmt: skip
    assert status == "200"
    assert [a.body for a in upgraded_posts(upstream, path)] == [CREDENTIALS]
    found = findings(proxy, tag)
    assert set(found) == {"credentials-before-upgrade"}
    (finding,) = found["credentials-before-upgrade"]
    assert finding["severity"] == "medium" and finding["action"] == "logged"
    assert finding["evidence"]["original_body_credentials"] == ["form:password"]


def test_https_enforcement_of_a_chromium_login_form(upstream, tmp_path):
    tag = "upgrade-chromium"
    path = f"/secure/session?tag={tag}"
    proxy = ProxyProcess.before(upstream, tmp_path, "--block-on", "high")
    try:
        with chromium(proxy.url) as browser, page_context(browser, ignore_https_errors=True) as context:
            page = context.new_page()
            page.goto(f"{LOGIN}/login?action={path.replace('?', '%3F').replace('=', '%3D')}")
            page.fill("input[name=password]", "pa55-upgrade")
            with page.expect_navigation(url=f"https://login.example.test{path}"):
                page.click("#submit")
    finally:
        found = findings(proxy, tag)
    (arrival,) = upgraded_posts(upstream, path)
    assert b"password=pa55-upgrade" in arrival.body
    assert set(found) == {"credentials-before-upgrade"}


def test_a_login_page_that_sets_a_cookie_and_redirects_to_itself_is_no_loop(upstream, tmp_path):
    proxy = ProxyProcess.before(upstream, tmp_path)
    url = "http://a.example.test/cookie-gate?name=sid&tag="
    assert curl(proxy, "-L", "--cookie", "", url + "gate-curl").stdout == "200"
    with chromium(proxy.url) as browser, page_context(browser) as context:
        assert context.new_page().goto(url + "gate-chromium").status == 200
    assert findings(proxy, "gate-") == {}
    assert [a.path for a in upstream.arrivals_at(url.removeprefix("http://a.example.test") + "gate-chromium")] == [
        "/cookie-gate?name=sid&tag=gate-chromium"
    ] * 2  # the redirect and the page: Chromium really came back


def test_a_real_cycle_is_a_loop(upstream, tmp_path):
    proxy = ProxyProcess.before(upstream, tmp_path)
    assert curl(proxy, "-L", "--max-redirs", "6", "http://a.example.test/loop/a?tag=cycle").returncode == 47
    (loop,) = findings(proxy, "tag=cycle")["redirect-loop"]
    assert loop["chain"]["hop"] == 3 and loop["redirect_url"] == "http://a.example.test/loop/a?tag=cycle"


def test_a_cookie_of_unknown_scope_on_the_same_site_is_low(upstream, tmp_path):
    """A `Domain=example.test` cookie set before the proxy started: requests sends it from a.example.test on to
    b.example.test, as it should. Its scope is unknown to the proxy; the host is the same site."""
    proxy = ProxyProcess.before(upstream, tmp_path)
    with requests.Session() as session:
        session.trust_env = False
        session.cookies.set("sid", "site-wide-7", domain=".example.test")
        url = upstream.go(302, "http://b.example.test/home?tag=site", "http://a.example.test") + "?tag=site"
        assert session.get(url, proxies={"http": proxy.url}, timeout=10).status_code == 200
    (finding,) = findings(proxy, "tag=site")["cookie-cross-origin"]
    assert finding["severity"] == "low"
    assert finding["evidence"] == {"cookies_out_of_scope": [], "cookies_scope_unknown": ["sid"]}


def test_a_cookie_of_unknown_scope_to_another_site_is_high(upstream, tmp_path):
    proxy = ProxyProcess.before(upstream, tmp_path)
    url = upstream.go(302, "http://c.other.test/home?tag=other", "http://a.example.test") + "?tag=other"
    assert send("naive-get", "GET", url, proxy=proxy.url, headers={"Cookie": "sid=site-wide-8"}).ok
    (finding,) = findings(proxy, "tag=other")["cookie-cross-origin"]
    assert finding["severity"] == "high" and finding["evidence"]["cookies_out_of_scope"] == ["sid"]
