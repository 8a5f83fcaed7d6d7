"""Reports never lose or crash: text that was not UTF-8 reaches every report printable, the HTML report on large
inputs draws the chains with findings and says what it leaves out, and console lines name the whole chain."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess

from redirect_audit.auditor import Auditor
from redirect_audit.engine.model import Body, Request, Response
from redirect_audit.reports import html
from redirect_audit.reports import session as session_module
from redirect_audit.reports.session import Session
from redirect_audit.rules.pack import RuleSet

from .generated import SUMMARY_TOTAL, TITLE, write_har
from .harness.process import BIN, ProxyProcess
from .rawhttp import exchange

RULES = RuleSet.load()


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "redirect-audit"), "analyze", *args], capture_output=True, text=True, timeout=300)


async def _redirect_any_method(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An upstream that answers GET with 200 and every other method, whatever its bytes, with 302 to /next."""
    head = await reader.readuntil(b"\r\n\r\n")
    port = writer.get_extra_info("sockname")[1]
    if head.startswith(b"GET "):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    else:
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/next\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n" % port)  # fmt: skip
    await writer.drain()
    writer.close()


async def _non_utf8_method_through(proxy: ProxyProcess) -> None:
    server = await asyncio.start_server(_redirect_any_method, "127.0.0.1", 0)
    async with server:
        origin = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        answer = await exchange(proxy.port, "P\xffST", f"{origin}/form", b"a=1")  # the method's bytes: P 0xFF S T
        assert answer.status == 302
        assert (await exchange(proxy.port, "GET", f"{origin}/next")).status == 200


def test_non_utf8_method_reaches_the_live_and_the_analysed_html(tmp_path):
    live_html, saved = tmp_path / "live.html", tmp_path / "session.mitm"
    proxy = ProxyProcess.cli(tmp_path, "--html", str(live_html), "--save", str(saved))
    try:
        asyncio.run(_non_utf8_method_through(proxy))
        proxy.wait_for("/form", "method-rewrite-disallowed")
    finally:
        assert proxy.stop(signal.SIGINT) == 0
    assert "internal error" not in proxy.output and "Traceback" not in proxy.output
    assert "302 · P%FFST → GET" in live_html.read_text(encoding="utf-8")
    analysed_html = tmp_path / "analysed.html"
    done = analyze(str(saved), "--html", str(analysed_html), "-q")
    assert done.returncode == 0, done.stderr
    assert "302 · P%FFST → GET" in analysed_html.read_text(encoding="utf-8")


def test_a_flagged_chain_after_2000_clean_ones_is_drawn_and_the_counts_are_whole(tmp_path):
    har = write_har(tmp_path / "big.har", [False] * 2001 + [True])
    html, report = tmp_path / "big.html", tmp_path / "big.jsonl"
    done = analyze(str(har), "--html", str(html), "--report", str(report), "-q")
    assert done.returncode == 0, done.stderr
    page = html.read_text()
    assert 'data-violation="credential-post-307 credentials-forwarded"' in page  # the one chain that matters
    assert page.count('class="chain') == 2000
    (total,) = SUMMARY_TOTAL.findall(done.stdout)
    assert TITLE.search(page).groups() == (total, "2002") == (str(len(report.read_text().splitlines())), "2002")
    assert '<div class="n" id="chain-count">2002</div>' in page
    assert re.search(r'id="left-out"><strong>Not drawn below: 2 chains and 0 findings.</strong>', page)


def _request(session: Session, flow_id: str, method: str, url: str, time: float, form: bytes = b"") -> Request:
    headers = (("content-type", "application/x-www-form-urlencoded"),) if form else ()
    request = Request(flow_id, "127.0.0.1", method, url, headers, Body.of(form), time)
    session.emit(session.auditor.request(request))
    return request


def _answer(session: Session, request: Request, status: int, location: str | None = None) -> None:
    headers = (("location", location),) if location else ()
    session.emit(session.auditor.response(request, Response(status, headers, request.time)))


def _chain(session: Session, number: int, flagged: bool, time: float) -> None:
    """One chain, as in write_har: a login POST re-sent across origins on a 307, or a clean GET 302."""
    form = b"user=a&password=hunter2" if flagged else b""
    method, first, then = ("POST", "https://idp.example/login", "https://other.example/in") if flagged else (
        "GET", "https://shop.example/old", "https://shop.example/new")  # fmt: skip
    _answer(session, _request(session, f"c{number}", method, f"{first}/{number}", time, form), 307 if flagged else 302,
            f"{then}/{number}")  # fmt: skip
    _answer(session, _request(session, f"c{number}-next", method, f"{then}/{number}", time + 0.001, form), 200)


def test_flagged_chains_are_never_given_up_and_what_is_left_out_is_counted():
    session = Session(Auditor(RULES), write_line=lambda line: None)
    session.chains.max_chains = 2
    for number, flagged in enumerate([False, True, True, False, True]):
        _chain(session, number, flagged, time=1000.0 + number)
    drawn = {chain.id: bool(chain.findings) for chain in session.chains.chains.values()}
    assert drawn == {"c1": True, "c2": True}  # the clean chain 0 made room for chain 2; no room for 3 and 4
    assert (session.chains.seen, session.chains.left_out, session.chains.findings_left_out) == (5, 3, 2)
    page = html.page(session)
    assert TITLE.search(page).groups() == (str(session.tally.total), "5")
    assert "Not drawn below: 3 chains and 2 findings." in page


def test_a_chain_given_up_while_clean_is_drawn_from_the_hop_that_has_findings():
    session = Session(Auditor(RULES), write_line=lambda line: None)
    session.chains.max_chains = 1
    _answer(session, _request(session, "a", "GET", "https://shop.example/start", 1.0), 302, "https://shop.example/in")
    second = _request(session, "a-next", "GET", "https://shop.example/in", 1.1)  # hop 1 followed, clean
    _chain(session, 1, False, time=1.2)  # takes the only place: chain a is given up, clean
    _answer(session, second, 302, "http://shop.example/plain")  # hop 2: https-downgrade
    (chain,) = session.chains.chains.values()
    assert chain.id == "a" and [hop.number for hop in chain.hops] == [2] and chain.worst == "medium"
    assert "from hop 2 (the hops before it are not drawn)" in html.page(session)


def test_html_counts_every_finding_beyond_those_kept_in_memory(monkeypatch):
    monkeypatch.setattr(session_module, "MAX_KEPT_FINDINGS", 1)  # the limit of findings kept for redirectaudit.jsonl
    session = Session(Auditor(RULES), write_line=lambda line: None)
    _chain(session, 0, True, time=1.0)
    _chain(session, 1, True, time=2.0)
    assert len(session.findings) == 1 < session.tally.total == 4
    page = html.page(session)
    assert TITLE.search(page).groups() == ("4", "2")
    assert re.search(r'<div class="card sev-critical"><div class="n">2</div>', page)


def test_console_lines_name_the_whole_chain(tmp_path):
    har = write_har(tmp_path / "login-session.har", [True, False, True])
    done = analyze(str(har))
    assert done.returncode == 0, done.stderr
    chains = re.findall(r"\(client recording, chain (\S+) hop 1\)$", done.stdout, re.M)
    assert set(chains) == {"login-session.har#0", "login-session.har#4"}


def test_html_report_notice_in_chromium(tmp_path):
    """The notice of what is left out is visible in a real browser; the page stays self-contained."""
    from .harness.browser import chromium, page_context

    har = write_har(tmp_path / "big.har", [False] * 2001 + [True])
    html = tmp_path / "big.html"
    assert analyze(str(har), "--html", str(html), "-q").returncode == 0
    page_text = html.read_text()
    assert "<script" not in page_text and "<link" not in page_text
    with chromium() as browser, page_context(browser, offline=True) as context:
        page = context.new_page()
        page.goto(html.as_uri())
        notice = page.locator("#left-out")
        assert notice.is_visible()
        assert notice.inner_text().startswith("Not drawn below: 2 chains and 0 findings.")
        assert page.locator("[data-violation*=credentials-forwarded]").first.is_visible()
        page.screenshot(path=str(tmp_path / "notice.png"))
