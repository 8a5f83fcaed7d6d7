"""HTTPS and HTTP/2 through the proxy: an https upstream on two loopback origins with a certificate the test
makes, clients that trust the proxy's CA from a temporary mitmproxy configuration directory."""

from __future__ import annotations

import itertools
import json
import secrets
from urllib.parse import quote

import pytest
from mitmproxy import io

from redirect_audit.demo.tls import self_signed

from .harness.browser import LOOPBACK_ONLY, chromium, page_context
from .harness.clients import send
from .harness.process import ProxyProcess
from .harness.upstream import ScenarioUpstream

_tags = itertools.count()
JSON = {"Content-Type": "application/json"}


def tls_proxy(workdir, *extra: str) -> tuple[ProxyProcess, str]:
    """A proxy whose CA lives in `workdir` (clients trust it), accepting the upstream's self-signed cert.
    Lazy upstream connections let a browser and the proxy agree on HTTP/2 (ALPN) whatever the upstream speaks."""
    proxy = ProxyProcess.cli(
        workdir, "--set", f"confdir={workdir}", "--set", "ssl_insecure=true",
        "--set", "connection_strategy=lazy", *LOOPBACK_ONLY, *extra,
    )  # fmt: skip
    return proxy, str(workdir / "mitmproxy-ca-cert.pem")


@pytest.fixture(scope="module")
def https_upstream(tmp_path_factory):
    with ScenarioUpstream(tls=self_signed(tmp_path_factory.mktemp("cert"))) as server:
        yield server


@pytest.fixture(scope="module")
def proxy_and_ca(tmp_path_factory):
    proxy, ca = tls_proxy(tmp_path_factory.mktemp("tls-proxy"))
    yield proxy, ca
    proxy.stop()


def tagged(upstream, path: str, origin: int = 0) -> tuple[str, str]:
    tag = f"h{next(_tags)}"
    return upstream.url(f"{path}{'&' if '?' in path else '?'}tag={tag}", origin), tag


@pytest.mark.parametrize("client", ["requests", "httpx", "curl"])
def test_https_webhook_307_preserved_and_clean(https_upstream, proxy_and_ca, client):
    proxy, ca = proxy_and_ca
    target, tag = tagged(https_upstream, "/v2/webhooks")
    body = json.dumps({"pad": "x" * 200_000}).encode()
    url = https_upstream.go(307, target) + f"?tag={tag}"
    assert send(client, "POST", url, proxy=proxy.url, body=body, headers=JSON, ca=ca).ok
    (arrival,) = https_upstream.arrivals_at(f"/v2/webhooks?tag={tag}")
    assert arrival.method == "POST" and arrival.body == body
    assert proxy.findings(tag) == []


@pytest.mark.parametrize(("client", "rule"), [("curl", "body-dropped"), ("requests", "body-dropped")])
def test_https_deviation_is_reported(https_upstream, proxy_and_ca, client, rule):
    proxy, ca = proxy_and_ca
    target, tag = tagged(https_upstream, "/items/7")
    url = https_upstream.go(301, target) + f"?tag={tag}"
    assert send(client, "PUT", url, proxy=proxy.url, body=b'{"qty": 3}', headers=JSON, ca=ca).ok
    found = proxy.wait_for(tag, rule)
    assert found[0]["redirect_url"].startswith("https://127.0.0.1:")


def test_cross_origin_over_separate_tls_connections(https_upstream, proxy_and_ca):
    proxy, ca = proxy_and_ca
    target, tag = tagged(https_upstream, "/callback", origin=1)
    url = https_upstream.go(307, target) + f"?tag={tag}"
    assert send("naive-get", "POST", url, proxy=proxy.url, body=b"a=1", ca=ca).ok  # one CONNECT tunnel each
    (finding,) = [f for f in proxy.wait_for(tag, "method-changed") if f["rule"] == "method-changed"]
    assert finding["followup_url"] == target and finding["followup_url"].startswith("https://127.0.0.2:")


def test_https_to_http_downgrade_with_credentials(https_upstream, upstream, proxy_and_ca):
    proxy, ca = proxy_and_ca
    tag = f"h{next(_tags)}"
    target = upstream.url(f"/plain?tag={tag}")  # the plain-http upstream
    url = https_upstream.go(302, target) + f"?tag={tag}"
    assert send("urllib", "GET", url, proxy=proxy.url, headers={"Authorization": "Bearer t-1"}, ca=ca).ok
    found = {f["rule"]: f for f in proxy.wait_for(tag, "authorization-cross-origin")}
    assert found["https-downgrade"]["severity"] == "high"  # raised: the chain carried a secret
    (arrival,) = upstream.arrivals_at(f"/plain?tag={tag}")
    assert arrival.header("authorization") == "Bearer t-1"  # urllib really sent it over plain http


def test_browser_over_http2_is_paired(https_upstream, tmp_path):
    saved = tmp_path / "h2.mitm"
    proxy, _ = tls_proxy(tmp_path, "--save", str(saved))
    password = f"pw-{secrets.token_hex(4)}"
    tag = f"h{next(_tags)}"
    callback = https_upstream.url(f"/callback?tag={tag}", 1)
    try:
        with chromium(proxy.url) as browser, page_context(browser, ignore_https_errors=True) as context:
            page = context.new_page()
            page.goto(https_upstream.url(f"/login?status=307&to={quote(callback, safe='')}"))
            page.fill("input[name=password]", password)
            with page.expect_navigation():
                page.click("#submit")
    finally:
        proxy.stop()
    rules = {f["rule"] for f in proxy.findings()}
    assert {"credential-post-307", "credentials-forwarded"} <= rules
    flows = [f for f in io.FlowReader(saved.open("rb")).stream() if f.request.host.startswith("127.0.0.")]
    login, follow = [f for f in flows if f.request.method == "POST"]
    assert login.request.http_version == follow.request.http_version == "HTTP/2.0"
    assert login.client_conn.id != follow.client_conn.id  # another origin: another TLS connection
    assert password not in proxy.report.read_text()
