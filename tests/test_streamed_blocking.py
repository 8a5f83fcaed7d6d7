"""Block mode under `stream_large_bodies`: a blocked violation never reaches the upstream or the client, and a
finding says `blocked` only when the bytes were stopped. Real proxy processes (`redirect-audit proxy` and stock
`mitmdump -s`), a real upstream on two loopback origins, curl."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mitmproxy import io

from .harness.process import BIN, ProxyProcess, addon_script

BIG = b"a=" + b"x" * 50_000


def blocking_proxy(kind: str, tmp_path, stream_large_bodies: str) -> ProxyProcess:
    """`redirect-audit proxy --block-on high`, or stock `mitmdump -s` with the same options."""
    streaming = ("--set", f"stream_large_bodies={stream_large_bodies}")
    if kind == "cli":
        return ProxyProcess.cli(tmp_path, "--block-on", "high", *streaming)
    return ProxyProcess.mitmdump(tmp_path, "--set", "redirect_audit_block_on=high", *streaming)


def curl(proxy: ProxyProcess, *args: str, body: bytes | None = None) -> subprocess.CompletedProcess:
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "", "-x", proxy.url,
               "--max-time", "10", *args]  # fmt: skip
    return subprocess.run(command, input=body, capture_output=True, timeout=20)


def findings(proxy: ProxyProcess, tag: str, rule: str) -> list[dict]:
    proxy.stop()
    return [f for f in proxy.findings(tag) if f["rule"] == rule]


@pytest.mark.parametrize("kind", ["cli", "mitmdump"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_streamed_followup_carrying_authorization_is_stopped_before_its_body(upstream, tmp_path, kind, framing):
    """A 50 KB POST through a 307 to another origin with Authorization kept (curl --location-trusted): its body
    streams past the proxy, so the verdict on its headers must come before the body does."""
    tag = f"stream-{kind}-{framing}"
    target = upstream.url(f"/hook?tag={tag}", 1)
    proxy = blocking_proxy(kind, tmp_path, "10k")
    headers = ["-H", "Authorization: Bearer str3am-token"]
    if framing == "chunked":
        headers += ["-H", "Transfer-Encoding: chunked"]
    url = upstream.go(307, target) + f"?tag={tag}"
    done = curl(proxy, "-L", "--location-trusted", *headers, "--data-binary", "@-", url, body=BIG)
    assert done.stdout != b"200", "the follow-up was answered"
    assert upstream.arrivals_at(f"/hook?tag={tag}") == []  # nothing reached the other origin
    # curl retries a request whose reused connection died: the retry is stopped too
    stopped = findings(proxy, tag, "authorization-cross-origin")
    assert stopped and {f["action"] for f in stopped} == {"blocked"}


@pytest.mark.parametrize("kind", ["cli", "mitmdump"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_redirect_with_a_large_body_is_still_replaced(upstream, tmp_path, kind, framing):
    """A 302 with a 5 KB body and a token in a Location to another site, under stream_large_bodies=1k: the client
    gets the 403, never the Location, and so never follows."""
    tag = f"big302-{kind}-{framing}"
    target = upstream.url(f"/land?access_token=t0ken-{tag}&tag={tag}", 1)
    body = b"r" * 5000
    if framing == "chunked":
        framed = b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    else:
        framed = b"Content-Length: %d\r\n\r\n" % len(body) + body
    url = upstream.raw(b"HTTP/1.1 302 Found\r\nLocation: " + target.encode() + b"\r\n" + framed) + f"?tag={tag}"
    proxy = blocking_proxy(kind, tmp_path, "1k")
    done = curl(proxy, "-L", url)
    assert done.stdout == b"403", done.stderr
    assert upstream.arrivals_at(f"/land?access_token=t0ken-{tag}&tag={tag}") == []
    (finding,) = findings(proxy, tag, "token-in-location")
    assert finding["action"] == "blocked"


def verdicts(records: list[dict]) -> list[tuple]:
    return sorted((r["rule"], r["stage"], r["status"], r["redirect_url"]) for r in records)


@pytest.mark.parametrize("kind", ["cli", "mitmdump"])
def test_a_session_recorded_in_block_mode_analyses_to_the_live_findings(upstream, tmp_path, kind):
    """The saved flow of a blocked 3xx holds the 403 the client got; analysing it still judges the 3xx the server
    sent (logged, not blocked), and nothing is `not-followed` that the client could not follow."""
    saved = tmp_path / "blocked.mitm"
    if kind == "cli":
        proxy = ProxyProcess.cli(tmp_path, "--block-on", "high", "--save", str(saved))
    else:
        proxy = ProxyProcess.mitmdump(tmp_path, "--set", "redirect_audit_block_on=high", "-w", str(saved))
    tag = f"recorded-{kind}"
    login = upstream.go(307, upstream.url(f"/callback?tag={tag}", 1)) + f"?tag={tag}"
    form = ["-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", "username=a&password=pw-rec"]
    assert curl(proxy, "-L", *form, login).stdout == b"403"
    other = upstream.go(302, upstream.url(f"/elsewhere?tag={tag}", 1)) + f"?tag={tag}"
    assert curl(proxy, "-L", "-H", "Authorization: Bearer rec-token", "--location-trusted", other).stdout == b"403"
    proxy.stop()
    live = proxy.findings(tag)
    assert {(f["rule"], f["action"]) for f in live} >= {("credential-post-307", "blocked"),
                                                        ("authorization-cross-origin", "blocked")}  # fmt: skip
    with saved.open("rb") as file:
        answers = [flow.response.status_code for flow in io.FlowReader(file).stream() if tag in flow.request.url]
    assert answers.count(403) == 2  # the flows show what the client got

    report = tmp_path / "analysed.jsonl"
    done = subprocess.run([sys.executable, "-m", "redirect_audit.cli.main", "analyze", str(saved), "--report",
                           str(report)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    analysed = [json.loads(line) for line in report.read_text().splitlines() if tag in line]
    assert verdicts(analysed) == verdicts(live)
    assert {f["action"] for f in analysed} == {"logged"}

    replayed = tmp_path / "replayed.jsonl"  # and stock mitmdump reading it, with the addon
    command = [str(BIN / "mitmdump"), "-n", "-r", str(saved), "-s", addon_script(), "--set",
               f"redirect_audit_report={replayed}"]  # fmt: skip
    assert subprocess.run(command, capture_output=True, timeout=60).returncode == 0
    assert verdicts([json.loads(line) for line in replayed.read_text().splitlines() if tag in line]) == verdicts(live)
