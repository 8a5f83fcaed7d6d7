"""Pending-table pressure: a proxy with `--max-pending 5` and thousands of redirects nobody follows. The
oldest waiting redirects are evicted as new ones come; the summary counts every eviction, the five still
waiting at shutdown end as `not-followed`, and the proxy's memory stays flat (VmRSS from /proc) once warm.
Each redirect carries a 16 KB body, so state kept past its eviction would show."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
from pathlib import Path

from .harness.process import ProxyProcess
from .proxy_output import report_records, summary_counts
from .rawhttp import ProxyConnection

MAX_PENDING = 5
WARM_UP = 500  # past mitmproxy's start-up allocations
MEASURED = 2_000
CONNECTIONS = 10
BODY = b"x" * 16_384
MAX_GROWTH_KB = 20 * 1024  # generous: the allocator's noise on a loaded machine, not a leak's thousands × 16 KB


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def unfollowed_redirects(proxy, upstream, count: int, numbers) -> None:
    """`count` 307 POSTs over keep-alive connections, each to a target of its own; none is followed."""

    async def sender(share: int) -> None:
        connection = await ProxyConnection.open(proxy.port)
        try:
            for _ in range(share):
                n = next(numbers)
                url = upstream.url(f"/redirect?status=307&to=/echo%3Fpressure%3D{n}&pressure={n}")
                assert (await connection.request("POST", url, BODY)).status == 307
        finally:
            connection.close()

    await asyncio.gather(*(sender(count // CONNECTIONS) for _ in range(CONNECTIONS)))


def test_evictions_are_counted_and_memory_stays_flat(upstream, tmp_path):
    # nothing expires during the run: every redirect beyond the five newest is evicted, none times out
    proxy = ProxyProcess.cli(tmp_path, "--max-pending", str(MAX_PENDING), follow_timeout="600")
    numbers = itertools.count()
    try:
        asyncio.run(unfollowed_redirects(proxy, upstream, WARM_UP, numbers))
        early = rss_kb(proxy.process.pid)
        asyncio.run(unfollowed_redirects(proxy, upstream, MEASURED, numbers))
        late = rss_kb(proxy.process.pid)
    finally:
        exit_status = proxy.stop()
    assert exit_status == 0
    total = WARM_UP + MEASURED
    assert summary_counts(proxy.output) == {
        "redirects": total,
        "followed": 0,
        "not_followed": MAX_PENDING,
        "evicted": total - MAX_PENDING,
    }
    records = report_records(proxy)
    assert [r["rule"] for r in records] == ["not-followed"] * MAX_PENDING
    assert late - early < MAX_GROWTH_KB, f"VmRSS grew {late - early} KB over {MEASURED} redirects"


def test_memory_stays_bounded_in_bytes_whatever_the_urls():
    """3,000 never-followed redirects whose URLs carry a 100 KB query, through a whole session (pending table,
    findings kept for the reports, chain log): scripts/bench_memory.py's bound holds."""
    script = Path(__file__).parent.parent / "scripts" / "bench_memory.py"
    done = subprocess.run([sys.executable, str(script), "--only", "long-urls", "--long-urls", "3000"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "within bounds" in done.stdout
