"""The proxy keeps serving under hostile input: a real upstream answers with Location values no well-behaved
server sends (empty, relative, `//`, backslashes, IDN, IPv6 literals, 64 KB long, invalid percent-encoding,
control characters, bytes that are not UTF-8, several Location headers) to requests with odd methods, bodies
and content types (malformed JSON and multipart, binary, past the parse limit), and real clients follow them
wherever they can. Every hostile 3xx is audited, and afterwards the proxy still audits a normal redirect, has
logged no internal error, and its report is whole JSON lines. (tests/test_fuzz.py holds the same property
in-process, over many more generated values.)"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urljoin

from .harness.clients import send
from .harness.process import LOOPBACK_ONLY, ProxyProcess
from .proxy_output import PROBE_RULES, report_records, summary_counts
from .rawhttp import exchange

MISSING, CONFUSING, BAD_SCHEME = {"location-missing"}, {"location-confusing"}, {"location-bad-scheme"}
# The Location headers of one answer, as bytes on the wire, and the location-* rules the 3xx alone must draw
# (None: no claim here; a valid, if odd, Location draws none).
HOSTILE: list[tuple[list[bytes], set[str] | None]] = [
    ([b""], set()),  # resolves to the request's own URL
    ([], MISSING),
    ([b"echo?relative"], set()),
    ([b"?query-only"], set()),
    ([b"#fragment-only"], set()),
    ([b"."], set()),
    ([b"//evil.example/x"], CONFUSING),
    ([b"/\\evil.example"], CONFUSING),
    ([b"\\\\evil.example\\x"], CONFUSING),
    ([b"http:\\\\evil.example"], CONFUSING),
    ([b"https:evil.example"], CONFUSING),
    (["http://bücher.example/".encode()], None),
    ([b"http://xn--bcher-kva.example/"], set()),
    (["/café".encode("latin-1")], CONFUSING),  # not UTF-8: browsers differ, but it is followed
    ([b"/\xff\xfe\xc3"], CONFUSING),
    ([b"http://[::1]:1/x"], set()),
    ([b"http://[::ffff:127.0.0.1]/"], None),
    ([b"http://[fe80::1%25lo]/"], MISSING),  # no zone ids in URLs
    ([b"http://[::1"], MISSING),
    ([b"http://127.0.0.1:99999/"], MISSING),
    ([b"/" + b"a" * 65_536], set()),
    ([b"/echo?q=" + b"%" * 65_536], set()),
    ([b"/%zz"], set()),
    ([b"/%"], set()),
    ([b"/%E0%A4%A"], set()),
    ([b"/%00"], set()),
    ([b"/a\x01b"], CONFUSING),
    ([b"/a\x00b"], CONFUSING),
    ([b"/a\tb"], CONFUSING),
    ([b"/a\rb"], CONFUSING),
    ([b"/a\x7fb"], CONFUSING),
    ([b"\x1b[31m/red"], CONFUSING),
    ([b"  /padded  "], set()),
    ([b"javascript:alert(1)"], BAD_SCHEME),
    ([b"data:text/html,x"], BAD_SCHEME),
    ([b"file:///etc/passwd"], BAD_SCHEME),
    ([b"http://user:secret@127.0.0.1/"], CONFUSING),
    ([b"/a", b"/b"], set()),  # several Location headers: the first counts
    ([b"/same", b"/same"], set()),
    ([b"", b"/second"], set()),
    ([b"//evil.example", b"/echo"], CONFUSING),
]
REQUESTS: list[tuple[str, str | None, bytes]] = [  # method, Content-Type, body
    ("GET", None, b""),
    ("HEAD", None, b""),
    ("POST", "application/json", b'{"password": '),
    ("PUT", "application/json", b"[" * 3000),
    ("POST", "multipart/form-data", b"--b\r\nContent-Disposition: form-data; name=password\r\n\r\nx"),
    ("POST", "multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data\r\n\r\nx"),
    ("PATCH", "application/x-www-form-urlencoded", b"%%%=&&=password=%zz&"),
    ("DELETE", "text/plain", bytes(range(256))),
    ("OPTIONS", "", b""),
    ("PROPFIND", "application/xml", b"<a><b>"),
    ("POST", "application/json; charset=utf-16", '{"password": "ü"}'.encode("utf-16")),
    ("POST", "application/x-www-form-urlencoded", b"password=" + b"x" * 2_000_000),  # past the parse limit
]
STATUSES = (301, 302, 303, 307, 308)


def hostile_answer(status: int, locations: list[bytes]) -> bytes:
    head = b"".join(b"Location: " + location + b"\r\n" for location in locations)
    return b"HTTP/1.1 %d Hostile\r\n%sContent-Length: 0\r\n\r\n" % (status, head)


async def replay_through_redirect(proxy_port: int, url: str, method: str, content_type: str | None, body: bytes):
    """A raw client that re-sends method and body wherever the Location points (resolved as RFC 3986 does):
    the redirect's answer, and the follow-up's status or the error the proxy answered with."""
    headers = [("Content-Type", content_type)] if content_type is not None else []
    answer = await exchange(proxy_port, method, url, body, headers)
    location = answer.header(b"location")
    if location is None:
        return answer, None
    try:
        followup = await exchange(proxy_port, method, urljoin(url, location.decode("latin-1")), body, headers)
    except ValueError:  # urljoin gives up on some (`http://[::1`)
        return answer, "unresolvable"
    except (OSError, asyncio.IncompleteReadError) as error:  # the proxy may refuse a request line it cannot parse
        return answer, type(error).__name__
    return answer, followup.status


async def hostile_traffic(proxy, upstream) -> dict[str, tuple[list[bytes], set[str] | None]]:
    """Every hostile answer, once to the raw client and once to requests: the redirect URLs, with their case."""
    cases = {}
    runs = []
    raw_urls = []
    for index, (locations, expected) in enumerate(HOSTILE):
        status = STATUSES[index % len(STATUSES)]
        method, content_type, body = REQUESTS[index % len(REQUESTS)]
        raw_url = upstream.raw(hostile_answer(status, locations))
        library_url = upstream.raw(hostile_answer(status, locations))
        cases[raw_url] = cases[library_url] = (locations, expected)
        raw_urls.append(raw_url)
        runs.append(replay_through_redirect(proxy.port, raw_url, method, content_type, body))
        runs.append(asyncio.to_thread(send, "requests", "GET", library_url, proxy=proxy.url, timeout=5))
    results = await asyncio.gather(*runs)
    for (answer, _), url in zip(results[::2], raw_urls, strict=True):
        assert answer.status in STATUSES, f"{url}: {answer}"  # the proxy passed every hostile 3xx on
    return cases


def test_proxy_keeps_serving_under_hostile_input(upstream, tmp_path):
    proxy = ProxyProcess.cli(tmp_path, "--rules", PROBE_RULES, *LOOPBACK_ONLY)
    try:
        cases = asyncio.run(hostile_traffic(proxy, upstream))
        assert proxy.process.poll() is None
        # still serving, and still auditing: a normal 307 POST is followed and paired
        target = upstream.url("/echo?after=hostile")
        normal = upstream.url(f"/redirect?status=307&to={quote(target, safe='')}&after=hostile")
        assert send("requests", "POST", normal, proxy=proxy.url, body=b"a=1").status == 200
        (arrival,) = upstream.arrivals_at("/echo?after=hostile")
        assert (arrival.method, arrival.body) == ("POST", b"a=1")
    finally:
        exit_code = proxy.stop()
    assert exit_code == 0
    assert "internal error" not in proxy.output and "Traceback" not in proxy.output

    records = report_records(proxy)
    audited = {r["redirect_url"]: r["evidence"]["location_count"] for r in records if r["rule"] == "every-redirect"}
    assert {url: audited.get(url) for url in cases} == {url: len(locations) for url, (locations, _) in cases.items()}
    for url, (locations, expected) in cases.items():
        drawn = {r["rule"] for r in records if r["redirect_url"] == url and r["rule"].startswith("location-")}
        assert expected is None or drawn == expected, (locations, drawn)
    (normal_pairing,) = [r for r in records if r["rule"] == "every-followup" and r["followup_url"] == target]
    assert normal_pairing["original_method"] == normal_pairing["followup_method"] == "POST"
    assert summary_counts(proxy.output)["redirects"] >= len(cases) + 1  # clients that follow add their own
    assert "user:secret@" not in proxy.report.read_text() + proxy.output  # userinfo stays redacted
