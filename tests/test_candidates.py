"""Several redirects of one address waiting for the same target: each follow-up is paired with its own redirect
(real proxy, real upstream, real clients), so parallel deliveries and two programs behind one address give no
false finding and block nothing."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import random
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
import requests

from .harness.process import ProxyProcess

JSON = {"Content-Type": "application/json"}
# Every pairing, with the body and method verdicts in its evidence.
PROBE = """rules:
  - id: paired
    title: Follow-up paired
    severity: info
    description: Every pairing, with what the body and the method did.
    when:
      body_state: {in: [none, preserved, altered, dropped, added, unknown]}
      method_changed: [true, false]
"""
WRONG_PAIRING = {"body-altered", "body-dropped", "method-changed", "body-after-get", "post-became-get"}


@pytest.fixture
def proxy(tmp_path):
    probe = tmp_path / "probe.yaml"
    probe.write_text(PROBE)
    started = ProxyProcess.cli(tmp_path, "--rules", str(probe), "--block-on", "high", follow_timeout="120")
    yield started
    started.stop()


def delivery(n: int) -> bytes:
    """A webhook payload of its own for each call, about 1 KB."""
    return json.dumps({"delivery": n, "event": "order.paid", "padding": "x" * (900 + n)}).encode()


def stopped_findings(proxy: ProxyProcess, tag: str) -> list[dict]:
    proxy.stop()
    return proxy.findings(tag)


def assert_each_paired_with_its_own(findings: list[dict], count: int) -> None:
    paired = [f for f in findings if f["rule"] == "paired"]
    assert len(paired) == count
    assert {f["evidence"]["body_state"] for f in paired} == {"preserved"}
    assert not {f["rule"] for f in findings} & WRONG_PAIRING
    assert not [f for f in findings if f["action"] == "blocked"]
    assert "ambiguous" not in {f["pairing"] for f in paired}


def arrived_bodies(upstream, path: str) -> set[str]:
    return {hashlib.sha256(a.body).hexdigest() for a in upstream.arrivals_at(path)}


@pytest.mark.parametrize("target_origin", [0, 1], ids=["same-origin", "cross-origin"])
def test_parallel_webhook_deliveries_with_requests(upstream, proxy, target_origin):
    """64 requests.post calls in 16 threads through one 307: each re-posts its own body, and is judged by it."""
    tag = f"hooks{target_origin}"
    target = upstream.url(f"/v2/hook?tag={tag}", target_origin)
    url = upstream.go(307, target) + f"?tag={tag}"
    proxies = {"http": proxy.url}

    def post(n: int) -> int:
        return requests.post(url, data=delivery(n), headers=JSON, proxies=proxies, timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(64)))
    assert statuses == [200] * 64
    assert arrived_bodies(upstream, f"/v2/hook?tag={tag}") == {
        hashlib.sha256(delivery(n)).hexdigest() for n in range(64)
    }
    assert_each_paired_with_its_own(stopped_findings(proxy, tag), 64)


def test_parallel_posts_with_asyncio(upstream, proxy):
    """32 concurrent POSTs from one aiohttp session through a 307 to another origin."""
    tag = "aio"
    url = upstream.go(307, upstream.url(f"/v2/aio?tag={tag}", 1)) + f"?tag={tag}"

    async def run() -> list[int]:
        async with aiohttp.ClientSession(trust_env=False) as session:

            async def post(n: int) -> int:
                async with session.post(url, data=delivery(n), headers=JSON, proxy=proxy.url) as response:
                    await response.read()
                    return response.status

            return await asyncio.gather(*(post(n) for n in range(32)))

    assert asyncio.run(run()) == [200] * 32
    assert_each_paired_with_its_own(stopped_findings(proxy, tag), 32)


def raw(proxy: ProxyProcess, connection: http.client.HTTPConnection | None, method: str, url: str, body=None,
        headers=None) -> tuple[int, str | None]:  # fmt: skip
    """One request through the proxy on `connection` (a new one if None), no redirect logic at all."""
    connection = connection or http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    connection.request(method, url, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    return response.status, response.getheader("Location")


def test_followups_sent_in_shuffled_order_pair_by_their_bodies(upstream, proxy):
    """16 POSTs answered 307, then their follow-ups in another order, each on a new connection: only the body
    tells which redirect each follows."""
    tag = "shuffled"
    target = upstream.url(f"/v2/shuffled?tag={tag}", 1)
    url = upstream.go(307, target) + f"?tag={tag}"
    for n in range(16):
        assert raw(proxy, None, "POST", url, delivery(n), JSON) == (307, target)
    order = list(range(16))
    random.Random(7).shuffle(order)
    for n in order:
        assert raw(proxy, None, "POST", target, delivery(n), JSON)[0] == 200
    findings = stopped_findings(proxy, tag)
    assert_each_paired_with_its_own(findings, 16)
    assert sorted(f["pairing"] for f in findings if f["rule"] == "paired") == ["matched"] * 15 + ["unique"]


@pytest.mark.parametrize("keep_alive", [True, False], ids=["same-connections", "new-connections"])
def test_two_programs_behind_one_address_each_get_their_own(upstream, proxy, keep_alive):
    """Program one POSTs /api and gets 307 /target; program two GETs /page and gets 302 /target, and follows
    first. Told apart by connection, or else by User-Agent: no finding, nothing blocked."""
    tag = f"two{int(keep_alive)}"
    target = upstream.url(f"/target?tag={tag}")
    one = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    two = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    agent_one, agent_two = {"User-Agent": "program-one/1.0"}, {"User-Agent": "program-two/2.0"}
    body = delivery(1)
    assert raw(proxy, one, "POST", upstream.go(307, target) + f"?tag={tag}&who=one", body, JSON | agent_one)[0] == 307
    assert raw(proxy, two, "GET", upstream.go(302, target) + f"?tag={tag}&who=two", None, agent_two)[0] == 302
    assert raw(proxy, two if keep_alive else None, "GET", target, None, agent_two)[0] == 200
    assert raw(proxy, one if keep_alive else None, "POST", target, body, JSON | agent_one)[0] == 200
    findings = stopped_findings(proxy, tag)
    assert {f["rule"] for f in findings} == {"paired"}
    by_program = {f["redirect_url"].rsplit("who=", 1)[1]: f for f in findings}
    assert by_program["two"]["original_method"] == "GET" and by_program["two"]["pairing"] == "matched"
    assert by_program["one"]["followup_method"] == "POST" and by_program["one"]["pairing"] == "unique"
    assert by_program["one"]["user_agent"] == "program-one/1.0"
    assert len(upstream.arrivals_at(f"/target?tag={tag}")) == 2  # nothing blocked
