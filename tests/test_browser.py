"""A real browser: an identity provider's login form answered with 307 (or 303) to another origin,
headless Chromium through a real `redirect-audit proxy`; and the HTML report, rendered in Chromium."""

from __future__ import annotations

import json
import re
import secrets
import subprocess

from .harness.browser import LOOPBACK_ONLY, chromium, page_context
from .harness.process import BIN, ProxyProcess


def login(upstream, proxy, status: int, tag: str, password: str, har: str | None = None) -> str:
    """Sign in through the proxy; returns the text of the page the browser ends on."""
    callback = upstream.url(f"/callback?tag={tag}", 1)
    start = upstream.url(f"/login?status={status}&to={callback}&tag={tag}")
    with chromium(proxy.url) as browser, page_context(browser, record_har_path=har) as context:
        page = context.new_page()
        page.goto(start)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("#submit")
        return page.content()


def test_login_307_reposts_the_password_and_is_reported(upstream, tmp_path):
    password = f"Tr0ub4dor-3-{secrets.token_hex(4)}"
    proxy = ProxyProcess.cli(tmp_path, *LOOPBACK_ONLY)
    try:
        login(upstream, proxy, 307, "b307", password)
        found = proxy.wait_for("", "credentials-forwarded")
    finally:
        proxy.stop()
    callback = upstream.arrivals_at("/callback?tag=b307")
    assert callback and callback[0].method == "POST" and password.encode() in callback[0].body  # Chromium re-posted
    assert callback[0].origin == upstream.origins[1]
    rules = {f["rule"] for f in found}
    assert {"credential-post-307", "credentials-forwarded"} <= rules
    assert password not in proxy.report.read_text() and password not in proxy.output


def test_login_303_is_clean(upstream, tmp_path):
    password = f"Tr0ub4dor-3-{secrets.token_hex(4)}"
    proxy = ProxyProcess.cli(tmp_path, *LOOPBACK_ONLY)
    try:
        login(upstream, proxy, 303, "b303", password)
    finally:
        proxy.stop()
    (callback,) = upstream.arrivals_at("/callback?tag=b303")
    assert callback.method == "GET" and password.encode() not in callback.body
    assert [f["rule"] for f in proxy.findings() if f["severity"] != "info"] == []


def test_block_on_high_keeps_the_password_from_the_callback(upstream, tmp_path):
    password = f"Tr0ub4dor-3-{secrets.token_hex(4)}"
    proxy = ProxyProcess.cli(tmp_path, "--block-on", "high", *LOOPBACK_ONLY)
    try:
        page = login(upstream, proxy, 307, "bblock", password)
    finally:
        proxy.stop()
    assert upstream.arrivals_at("/callback?tag=bblock") == []
    assert not [a for a in upstream.arrivals if password.encode() in a.body and a.origin == upstream.origins[1]]
    assert "redirect-audit blocked" in page and "credential-post-307" in page
    (finding,) = [f for f in proxy.findings() if f["rule"] == "credential-post-307"]
    assert finding["action"] == "blocked"


def test_har_recorded_by_chromium_gives_the_live_findings(upstream, tmp_path):
    """Record now, analyse later: Chromium's own HAR of the 307 login, through `analyze`."""
    har = tmp_path / "login.har"
    proxy = ProxyProcess.cli(tmp_path, *LOOPBACK_ONLY)
    try:
        login(upstream, proxy, 307, "bhar", "hunter2-har", har=str(har))
    finally:
        proxy.stop()
    live = {(f["rule"], f["redirect_url"], f["followup_url"]) for f in proxy.findings("/go/307/")}
    report = tmp_path / "analyzed.jsonl"
    done = subprocess.run(
        [str(BIN / "redirect-audit"), "analyze", str(har), "--report", str(report), "--fail-on", "high", "-q"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # a high finding: --fail-on high fails
    analyzed = {(f["rule"], f["redirect_url"], f["followup_url"]) for f in map(json.loads, report.open())}
    assert {"credential-post-307", "credentials-forwarded"} <= {rule for rule, _, _ in analyzed}
    assert live & analyzed == live  # every live finding of the login is found again in the browser's HAR


def test_html_report_renders_in_chromium(upstream, tmp_path):
    html = tmp_path / "report.html"
    proxy = ProxyProcess.cli(tmp_path, "--html", str(html), *LOOPBACK_ONLY)
    try:
        login(upstream, proxy, 307, "bhtml", "hunter2-html")
    finally:
        proxy.stop()
    assert "hunter2-html" not in html.read_text()
    shot = tmp_path / "report.png"
    with chromium() as browser, page_context(browser, offline=True) as context:  # it must not need a network
        page = context.new_page()
        page.goto(html.as_uri())
        assert re.match(r"redirect-audit report — \d+ findings? in \d+ chains?", page.title())
        chains = page.locator(".chain")
        assert int(page.locator("#chain-count").inner_text()) == chains.count() >= 1
        violation = page.locator("[data-violation*=credential-post-307]").first
        assert violation.is_visible()
        colour = violation.evaluate("e => getComputedStyle(e).color")
        assert colour in ("rgb(198, 40, 40)", "rgb(122, 0, 25)")  # high or critical, not the clean green
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
