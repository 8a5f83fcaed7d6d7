"""A hundred concurrent clients through one proxy, each running interleaved redirect chains (307 POST → 302 →
GET, every other chain across origins); every fifth client drops the body when it follows the 307. The
generator records every redirect each client got and what it sent next. Every finding must match that ground
truth: the client, the follow-up's method and URL, the flow ids of the redirect and of the follow-up (read
back from the `--save` flow file, mitmproxy's own record of which client sent what), the chain id and hop.
Nothing is lost, nothing is paired with another client's request.

Two cases. Distinct addresses: each client connects from its own 127.0.1.N and all clients request the very
same URLs, so only the client identity keeps their redirects apart. One shared address: the proxy knows a
client by its peer IP, so these hundred are one client to it, and two of them following the same URL would be
indistinguishable by design (first in, first out); there each chain's URLs carry the client's number, which
keeps the ground truth well-defined.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote, urljoin

import pytest

from .harness.process import ProxyProcess
from .proxy_output import PROBE_RULES, report_records, saved_flows, summary_counts
from .rawhttp import exchange

CLIENTS = 100
CHAINS_PER_CLIENT = 2  # one same-origin, one across origins
BODY_DROPPER_EVERY = 5  # clients 0, 5, 10 … re-send the 307 POST without its body
SHARED_SOURCE = "127.0.0.1"
FORM = [("Content-Type", "application/x-www-form-urlencoded")]


@dataclass(frozen=True)
class Hop:
    """One redirect a client received, and what it sent next: the ground truth of one pairing."""

    source: str
    chain_start: str  # URL of the chain's first request
    number: int
    method: str
    url: str
    followup_method: str
    followup_url: str
    body_dropped: bool


def source_of(client: int, shared: bool) -> str:
    return SHARED_SOURCE if shared else f"127.0.1.{client + 1}"


async def run_client(proxy_port: int, upstream, client: int, shared: bool) -> tuple[list[Hop], int]:
    """The client's chains, in lockstep: every chain holds a redirect before any of them follows. Returns its
    hops and how many requests it sent."""
    source = source_of(client, shared)
    drops_body = client % BODY_DROPPER_EVERY == 0
    lockstep = asyncio.Barrier(CHAINS_PER_CLIENT)
    sent = 0

    async def chain(index: int) -> list[Hop]:
        nonlocal sent
        mark = f"chain={index}" + (f"&client={client}" if shared else "")
        final = upstream.url(f"/echo?{mark}")
        middle = upstream.url(f"/redirect?status=302&to={quote(final, safe='')}&{mark}", origin=index % 2)
        start = url = upstream.url(f"/redirect?status=307&to={quote(middle, safe='')}&{mark}")
        method, body = "POST", f"client={client}&{mark}".encode()
        hops = []
        while True:
            answer = await exchange(proxy_port, method, url, body, FORM, source=source)
            sent += 1
            if answer.status == 200:
                return hops
            assert answer.status in (302, 307), answer
            followup = urljoin(url, answer.header(b"location").decode())
            if answer.status == 307:
                followup_method, followup_body = "POST", b"" if drops_body else body
            else:
                followup_method, followup_body = "GET", b""
            dropped = answer.status == 307 and drops_body  # kept the method, left the body behind
            hops.append(Hop(source, start, len(hops) + 1, method, url, followup_method, followup, dropped))
            await lockstep.wait()
            method, url, body = followup_method, followup, followup_body

    chains = await asyncio.gather(*(chain(index) for index in range(CHAINS_PER_CLIENT)))
    return [hop for hops in chains for hop in hops], sent


async def run_clients(proxy_port: int, upstream, shared: bool) -> tuple[list[Hop], int]:
    results = await asyncio.gather(*(run_client(proxy_port, upstream, c, shared) for c in range(CLIENTS)))
    return [hop for hops, _ in results for hop in hops], sum(sent for _, sent in results)


@pytest.mark.parametrize("shared", [False, True], ids=["distinct-addresses", "shared-address"])
def test_concurrent_clients_are_paired_exactly(upstream, tmp_path, shared):
    saved = tmp_path / "flows.mitm"
    # a generous follow timeout: on a loaded machine no redirect may expire while its client is still busy
    proxy = ProxyProcess.cli(tmp_path, "--rules", PROBE_RULES, "--save", str(saved), follow_timeout="300")
    try:
        hops, sent = asyncio.run(run_clients(proxy.port, upstream, shared))
    finally:
        assert proxy.stop() == 0
    assert len(hops) == CLIENTS * CHAINS_PER_CLIENT * 2

    flows = saved_flows(saved)
    assert len(flows) == sent  # every request reached the proxy once, from the address its client bound
    flow_id = {key: flow.id for key, flow in flows.items()}
    truth = {(hop.source, hop.url): hop for hop in hops}
    assert len(truth) == len(hops)

    records = report_records(proxy)
    pairings = [(r["client"], r["redirect_url"]) for r in records if r["rule"] == "every-followup"]
    assert sorted(pairings) == sorted(truth)  # each redirect paired exactly once: nothing lost, nothing doubled
    for record in records:
        hop = truth[(record["client"], record["redirect_url"])]
        assert record["original_method"] == hop.method
        assert record["chain"] == {"id": flow_id[(hop.source, "POST", hop.chain_start)], "hop": hop.number}
        assert record["flows"]["redirect"] == flow_id[(hop.source, hop.method, hop.url)]
        if record["stage"] == "followup":
            assert (record["followup_method"], record["followup_url"]) == (hop.followup_method, hop.followup_url)
            assert record["flows"]["followup"] == flow_id[(hop.source, hop.followup_method, hop.followup_url)]
        else:
            assert record["stage"] == "response"
    dropped = {(r["client"], r["redirect_url"]) for r in records if r["rule"] == "body-dropped"}
    assert dropped == {(hop.source, hop.url) for hop in hops if hop.body_dropped}
    assert summary_counts(proxy.output) == {
        "redirects": len(hops),
        "followed": len(hops),
        "not_followed": 0,
        "evicted": 0,
    }
    assert "internal error" not in proxy.output
