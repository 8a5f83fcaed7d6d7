"""One client's hostile input never stalls the proxy for the others: every parser on the hot path is linear.

Before, one 300 KB multipart POST (a head of `Content-Disposition:` repeated, which the part-name pattern searched
from every occurrence) froze the whole proxy for 30 s, and a URL or Location of 64,000 `?` (the URL-redaction
pattern restarted at each) for 17 s. Here a real proxy receives both, at 1 MB and more, with a gzip bomb and a
Location of nested encoded URLs, from one client, while another client's plain GET must be answered promptly.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import time

from .harness.process import ProxyProcess
from .proxy_output import PROBE_RULES, report_records
from .rawhttp import exchange

HOSTILE_HEAD = b"--B\r\n" + b"Content-Disposition: form-data; " * 31_000 + b"\r\n\r\nx\r\n--B--\r\n"  # about 1 MB
QUESTION_MARKS = "?" * 64_000
# The one kind of timed assertion the suite allows: a generous bound on hostile input. Linear parsers judge each of
# these in well under a second on two cores; the quadratic ones took minutes.
PROMPTLY = 10.0


def redirecting(upstream, location: str) -> str:
    """A URL the upstream answers with a 302 to `location`, however long (its own request line has a limit)."""
    return upstream.raw(b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % location.encode())


async def hostile_and_plain(proxy: ProxyProcess, upstream) -> tuple[list[int], float, float]:
    """The hostile requests from 127.0.0.1, all at once; a second later a plain GET from 127.0.0.9. The hostile
    answers' statuses, how long they took, and how long the plain GET waited."""
    other = upstream.url("/cb?tag=hostile", 1)
    form = [("Content-Type", "application/x-www-form-urlencoded"), ("Content-Encoding", "gzip")]
    hostile = [
        exchange(proxy.port, "POST", upstream.go(307, other) + "?tag=multipart", HOSTILE_HEAD,
                 [("Content-Type", "multipart/form-data; boundary=B")]),
        exchange(proxy.port, "GET", upstream.go(302, "/landing") + "?tag=url" + QUESTION_MARKS),
        exchange(proxy.port, "GET", redirecting(upstream, "/landing" + QUESTION_MARKS) + "?tag=location"),
        exchange(proxy.port, "GET", redirecting(upstream, "/landing?next=" + "%253Faccess_token%253D" * 40_000)
                 + "?tag=nested"),
        exchange(proxy.port, "POST", upstream.go(307, other) + "?tag=bomb",
                 gzip.compress(b"password=" + bytes(1 << 20)) + gzip.compress(bytes(1 << 20)) * 900, form),
    ]  # fmt: skip
    start, finished = time.monotonic(), []
    answers = asyncio.gather(*hostile)
    answers.add_done_callback(lambda _: finished.append(time.monotonic()))
    await asyncio.sleep(1.0)
    sent = time.monotonic()
    plain = await exchange(proxy.port, "GET", upstream.url("/echo?tag=plain"), source="127.0.0.9", timeout=60)
    waited = time.monotonic() - sent
    assert plain.status == 200
    statuses = [answer.status for answer in await answers]
    return statuses, finished[0] - start, waited


def test_hostile_input_from_one_client_never_stalls_another(upstream, tmp_path):
    proxy = ProxyProcess.cli(tmp_path, "--rules", PROBE_RULES)
    try:
        statuses, hostile_took, waited = asyncio.run(hostile_and_plain(proxy, upstream))
    finally:
        proxy.stop()
    assert waited < PROMPTLY, f"the other client's GET waited {waited:.1f} s"
    assert hostile_took < PROMPTLY, f"the hostile requests took {hostile_took:.1f} s"
    assert statuses == [307, 302, 302, 302, 307]
    judged = {re.search(r"tag=([a-z]+)", record["redirect_url"]).group(1) for record in report_records(proxy)}
    assert {"multipart", "url", "location", "nested", "bomb"} <= judged
    assert "internal error" not in proxy.output
    assert "2 bodies not parsed for credentials" in proxy.output  # the multipart head and the bomb
