#!/usr/bin/env python3
"""The engine's memory stays flat, measured on the real auditor (default rules) in this process:

  1. never-followed redirects (default 1,000,000) from many clients, to unique targets, some carrying a
     password in the query and a cookie, some setting cookies: the resident set (RSS) is sampled as they go,
     and its growth after a warm-up must stay under 64 MB — the pending table, the chains, the cookie jar
     and the per-client counts are all bounded, and every `not-followed` event is handed on, not kept.
  2. a 256 MB POST answered 307 and re-posted: the bytes exist before the engine sees them (as they do in
     mitmproxy's flow), and tracemalloc's peak over the engine's calls — the 3xx, then the follow-up —
     must stay under 1 MB: the body is digested, never copied.
  3. never-followed redirects (default 3,000) whose URLs and Locations carry a 100 KB query, through the whole
     session a proxy runs (auditor, findings kept for the reports, chain log): RSS growth from before the
     first to the end, expiry included, must stay under 64 MB — bounded in bytes, not only in count.

    .venv/bin/python scripts/bench_memory.py [--redirects 1000000] [--body-mb 256] [--long-urls 3000]
                                             [--only unfollowed|large-body|long-urls]

Exits 1 when a bound is exceeded, so the figures in docs/performance.md can be rechecked with one command.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

from redirect_audit.auditor import Auditor
from redirect_audit.engine.model import Body, Request, Response
from redirect_audit.reports.session import Session
from redirect_audit.rules.pack import RuleSet

MB = 1 << 20
RSS_BOUND = 64 * MB
PEAK_BOUND = 1 * MB
WARM_UP = 50_000  # enough to fill the default pending table (10,000) and the cookie jar before the baseline


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def unfollowed(count: int) -> tuple[int, int, int]:
    """Feed `count` 3xx responses nobody follows; (RSS after warm-up, highest RSS after it, findings seen)."""
    auditor = Auditor(RuleSet.load())
    baseline = highest = 0
    findings = 0
    now = 1_700_000_000.0
    for n in range(count):
        now += 0.004  # 250 redirects a second: 7,500 wait out the 30 s follow timeout and expire as findings
        client = f"10.{n % 7}.{n % 251}.{n % 253}"
        query = f"?password=pw{n}" if n % 10 == 0 else ""
        headers = (("cookie", f"sid=s{n}"),) if n % 3 == 0 else ()
        request = Request(f"f{n}", client, "POST", f"https://a.example/login/{n}{query}", headers, Body.of(b""), now)
        answer = [("location", f"https://b.example/next/{n}")]
        if n % 5 == 0:
            answer.append(("set-cookie", f"c{n % 400}=v; Domain=a.example; Secure"))
        findings += len(auditor.response(request, Response(302, tuple(answer), now)))
        if n == WARM_UP:
            baseline = highest = rss()
        elif n > WARM_UP and n % 10_000 == 0:
            highest = max(highest, rss())
    findings += len(auditor.finish(now))
    stats = auditor.stats
    print(f"  {stats.redirects:,} redirects, {stats.not_followed:,} not followed, {stats.evicted:,} evicted, "
          f"{auditor.pairing.pending:,} pending at the end")  # fmt: skip
    return baseline, max(highest, rss()), findings


def large_body(size: int) -> int:
    """tracemalloc's peak, in bytes, over the engine's handling of a `size`-byte POST, 307, re-POST."""
    body = b"x" * size  # the flow's bytes, allocated before tracing: the engine must not copy them
    auditor = Auditor(RuleSet.load())
    headers = (("content-type", "application/octet-stream"), ("content-length", str(size)))
    original = Request("big", "10.0.0.1", "POST", "https://a.example/upload", headers, Body.of(body), 1.0)
    followup = Request("big-2", "10.0.0.1", "POST", "https://b.example/upload", headers, Body.of(body), 2.0)
    tracemalloc.start()
    try:
        auditor.response(original, Response(307, (("location", "https://b.example/upload"),), 1.5))
        findings = auditor.request(followup)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    state = next(f.evidence for f in findings) if findings else {}
    print(f"  follow-up judged: {[f.rule for f in findings] or 'clean'} {state}")
    return peak


def long_urls(count: int) -> tuple[int, int]:
    """Feed `count` never-followed 3xx with 100 KB URLs through a session; (RSS before, highest RSS)."""
    auditor = Auditor(RuleSet.load())
    session = Session(auditor, write_line=lambda line: None)
    baseline = highest = rss()
    now = 1_700_000_000.0
    query = "q=" + "x" * 100_000
    for n in range(count):
        now += 0.02  # 50 a second: about 1,500 wait out the follow timeout, the rest expire as they go
        request = Request(f"l{n}", f"10.1.{n % 250}.1", "GET", f"https://a.example/{n}?{query}", (), Body.of(b""), now)
        answer = (("location", f"https://b.example/{n}?{query}"),)
        session.emit(auditor.response(request, Response(302, answer, now)))
        if n % 500 == 0:
            highest = max(highest, rss())
    session.emit(auditor.finish(now))
    print(f"  {auditor.stats.redirects:,} redirects, {auditor.stats.cut:,} with texts cut, "
          f"{len(session.findings):,} findings kept for the reports")  # fmt: skip
    return baseline, max(highest, rss())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redirects", type=int, default=1_000_000)
    parser.add_argument("--body-mb", type=int, default=256)
    parser.add_argument("--long-urls", type=int, default=3_000)
    parser.add_argument("--only", choices=("unfollowed", "large-body", "long-urls"))
    args = parser.parse_args()
    if args.redirects <= WARM_UP:
        parser.error(f"--redirects must exceed the warm-up of {WARM_UP:,}")
    ok = True

    if args.only in (None, "unfollowed"):
        print(f"1. {args.redirects:,} never-followed redirects through the auditor")
        started = time.perf_counter()
        baseline, highest, findings = unfollowed(args.redirects)
        growth = highest - baseline
        print(f"  RSS after warm-up {baseline / MB:.1f} MB, highest after it {highest / MB:.1f} MB: "
              f"growth {growth / MB:.1f} MB (bound {RSS_BOUND // MB} MB); {findings:,} findings handed on; "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        ok &= growth < RSS_BOUND

    if args.only in (None, "large-body"):
        print(f"2. a {args.body_mb} MB POST through a 307")
        peak = large_body(args.body_mb * MB)
        print(f"  engine peak {peak / 1024:.0f} KB while judging it (bound {PEAK_BOUND // 1024} KB)")
        ok &= peak < PEAK_BOUND

    if args.only in (None, "long-urls"):
        print(f"3. {args.long_urls:,} never-followed redirects with 100 KB URLs through a session")
        started = time.perf_counter()
        baseline, highest = long_urls(args.long_urls)
        growth = highest - baseline
        print(f"  RSS before {baseline / MB:.1f} MB, highest {highest / MB:.1f} MB: growth {growth / MB:.1f} MB "
              f"(bound {RSS_BOUND // MB} MB); {time.perf_counter() - started:.0f} s")  # fmt: skip
        ok &= growth < RSS_BOUND

    print("within bounds" if ok else "BOUND EXCEEDED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
