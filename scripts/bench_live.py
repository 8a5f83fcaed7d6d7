#!/usr/bin/env python3
"""Live throughput and latency through `mitmdump`, without the addon (A) and with it (B), side by side in one run.

Three kinds of process on loopback, each its own:

  - the upstream, one for the whole run: a small asyncio HTTP/1.1 server on 127.0.0.1 and 127.0.0.2 (one port,
    two origins) that reads every request body to the end and answers `/r/STATUS/REST` with STATUS and
    `Location: /REST`, `/x/STATUS/HOST/REST` with STATUS and `Location: http://HOST:PORT/REST`, anything else
    with 200;
  - the proxy, fresh for every run: A = `mitmdump -q`, B = the same with `-s "$(python -m redirect_audit.script)"`
    and `redirect_audit_report` on disk (default rules, so the addon does its full work);
  - the load generator, fresh for every run: `--connections` keep-alive connections to the proxy as an explicit
    HTTP proxy, each sending exchanges back to back. It is a closed loop that keeps the proxy saturated, so
    requests/s is the proxy's capacity and latency is mostly time queued in the proxy.

The mix, one exchange at a time: 1/6 a plain request (200), 2/3 a redirect, 1/6 a chain of two redirects, each
redirect's status drawn from 301, 302, 303, 307, 308. Plain and two-redirect exchanges are equally frequent, so
exactly half of all requests are answered with a 3xx, and the generator follows each one itself as a correct
client does: 301/302 turn POST into GET, 303 turns anything but HEAD into GET (body and content headers
dropped), 307/308 re-send the method and the body. First requests are 80% POST, 20% GET. POST bodies are form
(1/4) or JSON (1/4) with a password field, or binary (1/2), of 1, 2, 4, 8 or 16 KB (85%, equally likely),
64 KB (8%), 256 KB (5%) or 1 MB (2%). 3% of exchanges are deliberate violations, one of three kinds equally
often: a 307 followed with a GET without the body, a 303 answered by re-posting, a login form re-posted to the
other origin after a 307.

Each run warms up for `--warmup` seconds, then measures for `--seconds`; then the generator stops starting
exchanges and lets those under way finish, so every redirect it received was followed. A and B alternate for
`--rounds` rounds, B first in every other round. Printed: per contender the median requests/s, p50 and p99
latency, and the proxy's CPU time per request; B/A requests/s (target at least 0.97) as the ratio of the medians
and as the median of the rounds' ratios; what B adds to latency and to the proxy's CPU per request. Every B
report is checked rule by rule against the findings the generator's traffic must produce (`post-became-get` for
each POST it turned into a GET on 301/302, and the violations'), so B's figures are those of an addon that
paired every redirect; a mismatch makes the run fail.

With `--side-by-side`, each round runs A and B at the same time instead, each proxy with its own generator (the
machine's two cores hold both): a drift in the machine's speed then weighs on both within the round.

    .venv/bin/python scripts/bench_live.py --seconds 10 --rounds 5 --connections 64
    .venv/bin/python scripts/bench_live.py --side-by-side
    .venv/bin/python scripts/bench_live.py --seconds 20 --profile stacks.txt    # B once, under py-spy
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bench_rounds import in_turn

import redirect_audit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, for the test harness
from tests.harness.process import BIN, ProxyProcess, addon_script, free_port  # noqa: E402

ORIGINS = ("127.0.0.1", "127.0.0.2")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
BODY_SIZES = {1024: 17, 2048: 17, 4096: 17, 8192: 17, 16384: 17, 65536: 8, 262144: 5, 1048576: 2}  # percent
BODY_KINDS = {"form": 1, "json": 1, "binary": 2}
CONTENT_TYPES = {"form": "application/x-www-form-urlencoded", "json": "application/json"}
VIOLATION_SHARE = 0.03
REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class Violation:
    """A deliberate violation: the first request's path ({n}: the exchange's number, {other}: the other origin),
    its body, how the client follows the first redirect, and the findings the addon must report for it."""

    path: str
    body_kind: str
    follow: str  # "correct", "get-without-body" or "unchanged" (re-send the request as it was)
    rules: tuple[str, ...]


VIOLATIONS = (
    Violation("/r/307/ok/{n}", "binary", "get-without-body", ("method-changed", "body-dropped")),
    Violation("/r/303/ok/{n}", "binary", "unchanged", ("see-other-not-get",)),
    Violation("/x/307/{other}/ok/{n}", "form", "correct", ("credential-post-307", "credentials-forwarded")),
)


# --- HTTP/1.1, as much as the upstream and the generator need ---------------------------------------------------


async def read_message(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """One HTTP/1.1 message: its start line, its headers (lower-case names) and its body, read to the end."""
    head = await reader.readuntil(b"\r\n\r\n")
    start, *lines = head[:-4].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return start, headers, await _read_chunked(reader)
    return start, headers, await reader.readexactly(int(headers.get("content-length") or 0))


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while size := int((await reader.readline()).split(b";")[0], 16):
        chunks.append(await reader.readexactly(size))
        await reader.readline()
    while await reader.readline() not in (b"\r\n", b""):  # trailers
        pass
    return b"".join(chunks)


# --- The upstream -----------------------------------------------------------------------------------------------


def upstream_answer(target: str, port: int) -> bytes:
    """The upstream's whole answer to a request for `target` (see the module docstring)."""
    path = urlsplit(target).path
    if path.startswith("/r/"):
        _, _, status, rest = path.split("/", 3)
        location = f"/{rest}"
    elif path.startswith("/x/"):
        _, _, status, host, rest = path.split("/", 4)
        location = f"http://{host}:{port}/{rest}"
    else:
        return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    return f"HTTP/1.1 {status} Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
    try:
        while True:
            start, _, _ = await read_message(reader)
            writer.write(upstream_answer(start.split(" ", 2)[1], port))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the proxy closed its connection
    finally:
        writer.close()


def serve_upstream(port: int, ready) -> None:
    """The upstream process: serves until terminated."""

    async def serve() -> None:
        for host in ORIGINS:
            await asyncio.start_server(lambda r, w: _serve_connection(r, w, port), host, port)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(serve())


# --- The load generator -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    method: str
    url: str
    body_kind: str | None = None  # None: no body
    body: bytes = b""


def make_bodies(rng: random.Random) -> dict[tuple[str, int], bytes]:
    """Every (kind, size) body once, made before the run: the generator spends no time on them while measuring."""
    bodies = {}
    for size in BODY_SIZES:
        pad = rng.randbytes(size // 2).hex()
        bodies["form", size] = f"user=bench&password=hunter2&data={pad}"[:size].encode()
        document = json.dumps({"user": "bench", "password": "hunter2", "data": pad})
        bodies["json", size] = (document[: size - 2] + '"}').encode()  # cut inside `data`, closed again
        bodies["binary", size] = rng.randbytes(size)
    return bodies


class Mix:
    """The exchanges the generator sends (see the module docstring), and the findings they must produce."""

    def __init__(self, upstream_port: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.port = upstream_port
        self.bodies = make_bodies(self.rng)
        self.numbers = itertools.count()

    def _url(self, path: str) -> str:
        return f"http://{ORIGINS[0]}:{self.port}{path}"

    def _with_body(self, method: str, url: str, kind: str | None = None) -> Outgoing:
        if method != "POST":
            return Outgoing(method, url)
        kind = kind or self.rng.choices(list(BODY_KINDS), list(BODY_KINDS.values()))[0]
        size = self.rng.choices(list(BODY_SIZES), list(BODY_SIZES.values()))[0]
        return Outgoing(method, url, kind, self.bodies[kind, size])

    def first_request(self) -> tuple[Outgoing, Violation | None]:
        n = next(self.numbers)
        if self.rng.random() < VIOLATION_SHARE:
            violation = self.rng.choice(VIOLATIONS)
            path = violation.path.format(n=n, other=ORIGINS[1])
            return self._with_body("POST", self._url(path), violation.body_kind), violation
        hops = self.rng.choices((0, 1, 2), (1, 4, 1))[0]
        path = "".join(f"/r/{self.rng.choice(REDIRECT_STATUSES)}" for _ in range(hops)) + f"/ok/{n}"
        return self._with_body(self.rng.choices(("POST", "GET"), (4, 1))[0], self._url(path)), None


def follow(request: Outgoing, status: int, location: str, how: str = "correct") -> tuple[Outgoing, list[str]]:
    """The follow-up a client sends for a 3xx, and the findings the addon must report for that hop."""
    url = urljoin(request.url, location)
    if how == "unchanged":
        return Outgoing(request.method, url, request.body_kind, request.body), []
    if how == "get-without-body":
        return Outgoing("GET", url), []
    if (status == 303 and request.method != "HEAD") or (status in (301, 302) and request.method == "POST"):
        # RFC 9110 allows it on 301/302 and browsers do it; the default rules note it (info).
        return Outgoing("GET", url), ["post-became-get"] if status != 303 else []
    return Outgoing(request.method, url, request.body_kind, request.body), []


@dataclass
class Meter:
    """Latencies of the requests completed inside the measured window."""

    start: float = float("inf")
    end: float = float("inf")
    latencies: list[float] = field(default_factory=list)

    def record(self, started: float, finished: float) -> None:
        if self.start <= finished < self.end:
            self.latencies.append(finished - started)


class ProxyConnection:
    """One keep-alive client connection to the proxy."""

    def __init__(self, proxy_port: int, meter: Meter) -> None:
        self.proxy_port = proxy_port
        self.meter = meter
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: Outgoing) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.proxy_port)
        host = urlsplit(request.url).netloc
        head = f"{request.method} {request.url} HTTP/1.1\r\nHost: {host}\r\n"
        if request.body_kind is not None:
            content_type = CONTENT_TYPES.get(request.body_kind, "application/octet-stream")
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(request.body)}\r\n"
        started = time.perf_counter()
        self.writer.write(head.encode() + b"\r\n")
        if request.body:
            self.writer.write(request.body)
        async with asyncio.timeout(REQUEST_TIMEOUT):
            await self.writer.drain()
            start, headers, _ = await read_message(self.reader)
        self.meter.record(started, time.perf_counter())
        return int(start.split(" ", 2)[1]), headers

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


@dataclass
class Tally:
    exchanges: int = 0
    redirects_followed: int = 0
    errors: int = 0
    expected: Counter = field(default_factory=Counter)  # findings the addon must report, by rule


async def run_exchange(connection: ProxyConnection, mix: Mix, tally: Tally) -> None:
    request, violation = mix.first_request()
    expected: list[str] = list(violation.rules) if violation else []
    how = violation.follow if violation else "correct"
    while True:
        status, headers = await connection.send(request)
        if status not in REDIRECT_STATUSES:
            break
        request, rules = follow(request, status, headers["location"], how)
        expected += rules
        how = "correct"  # a violation is on the first hop only
        tally.redirects_followed += 1
    if status != 200:
        raise RuntimeError(f"{request.method} {request.url}: status {status}")
    tally.exchanges += 1
    tally.expected.update(expected)


async def connection_loop(proxy_port: int, mix: Mix, meter: Meter, tally: Tally, stop: asyncio.Event) -> None:
    connection = ProxyConnection(proxy_port, meter)
    while not stop.is_set():
        try:
            await run_exchange(connection, mix, tally)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, RuntimeError):
            # An exchange broken off halfway leaves its findings uncertain: counted, and B's check then fails.
            tally.errors += 1
            connection.close()
    connection.close()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def generate(proxy_port: int, upstream_port: int, args: dict, watched: dict[str, int]) -> dict:
    mix, meter, tally, stop = Mix(upstream_port, seed=args["seed"]), Meter(), Tally(), asyncio.Event()
    loops = [
        asyncio.create_task(connection_loop(proxy_port, mix, meter, tally, stop)) for _ in range(args["connections"])
    ]
    await asyncio.sleep(args["warmup"])
    cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    meter.start = time.perf_counter()
    meter.end = meter.start + args["seconds"]
    await asyncio.sleep(args["seconds"])
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in watched.items()}
    stop.set()
    await asyncio.gather(*loops)
    return {
        "requests": len(meter.latencies),
        "latencies": meter.latencies,
        "cpu": cpu,
        "exchanges": tally.exchanges,
        "redirects_followed": tally.redirects_followed,
        "errors": tally.errors,
        "expected": dict(tally.expected),
    }


def generator_process(proxy_port: int, upstream_port: int, args: dict, watched: dict[str, int], results) -> None:
    watched = {**watched, "generator": os.getpid()}
    results.send(asyncio.run(generate(proxy_port, upstream_port, args, watched)))


# --- The runs ---------------------------------------------------------------------------------------------------


@dataclass
class Run:
    requests_per_second: float
    p50: float  # seconds
    p99: float
    proxy_cpu_per_request: float  # seconds
    cpu_share: dict[str, float]  # CPU time over wall time in the window, by process


def percentiles(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49], cuts[98]


def check_report(report: Path, load: dict) -> list[str]:
    """What is wrong with B's report, against the findings the generator's traffic must produce."""
    problems = []
    if load["errors"]:
        problems.append(f"{load['errors']} exchanges broke off: their findings are uncertain")
    found = Counter(json.loads(line)["rule"] for line in report.read_text().splitlines()) if report.exists() else {}
    expected = Counter(load["expected"])
    for rule in sorted(set(found) | set(expected)):
        if found.get(rule, 0) != expected.get(rule, 0):
            problems.append(f"{rule}: {found.get(rule, 0)} in the report, {expected.get(rule, 0)} expected")
    return problems


def run_contender(
    extra: list[str], workdir: Path, upstream: tuple[int, int], args: argparse.Namespace, profile: Path | None = None
) -> tuple[Run, dict, ProxyProcess]:
    """One run: a fresh proxy with these extra arguments, loaded by a fresh generator; `profile`: py-spy records
    the proxy during the measured window into that file."""
    return run_together([extra], workdir, upstream, args, profile)[0]


def run_together(
    extras: list[list[str]],
    workdir: Path,
    upstream: tuple[int, int],
    args: argparse.Namespace,
    profile: Path | None = None,
) -> list[tuple[Run, dict, ProxyProcess]]:
    """Fresh proxies, one for each list of extra arguments, each loaded by its own fresh generator, all measured
    over the same window; `profile`: py-spy records the first proxy during that window into that file."""
    upstream_port, upstream_pid = upstream
    context = multiprocessing.get_context("spawn")
    settings = {key: getattr(args, key) for key in ("connections", "warmup", "seconds", "seed")}
    proxies: list[ProxyProcess] = []
    generators = []
    try:
        for extra in extras:
            port = free_port()
            command = [str(BIN / "mitmdump"), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port), *extra]
            proxies.append(ProxyProcess(command, port, workdir / f"proxy-{port}.jsonl"))
        for proxy in proxies:
            receive, send = context.Pipe(duplex=False)
            watched = {"proxy": proxy.process.pid, "upstream": upstream_pid}
            generator = context.Process(
                target=generator_process, args=(proxy.port, upstream_port, settings, watched, send)
            )
            generators.append((generator, receive))
            generator.start()
        if profile is not None:
            time.sleep(args.warmup)
            record_profile(proxies[0].process.pid, args.seconds, profile)
        loads = [collect(generator, receive) for generator, receive in generators]
    finally:
        for proxy in proxies:
            proxy.stop()
        for generator, _ in generators:
            generator.join(timeout=REQUEST_TIMEOUT)
    return [(run_of(load, args.seconds), load, proxy) for load, proxy in zip(loads, proxies, strict=True)]


def collect(generator, receive) -> dict:
    """What a generator measured, once it reports; an error if it died first."""
    while not receive.poll(1):
        if not generator.is_alive():
            raise RuntimeError(f"the load generator exited with {generator.exitcode} before reporting")
    return receive.recv()


def run_of(load: dict, seconds: float) -> Run:
    p50, p99 = percentiles(load["latencies"])
    return Run(
        requests_per_second=load["requests"] / seconds,
        p50=p50,
        p99=p99,
        proxy_cpu_per_request=load["cpu"]["proxy"] / load["requests"],
        cpu_share={process: cpu / seconds for process, cpu in load["cpu"].items()},
    )


def record_profile(pid: int, seconds: float, path: Path) -> None:
    """py-spy (not a dependency: `pip install py-spy`) samples the process for that long into collapsed stacks:
    one line a stack, its frames joined by `;`, then its count of samples."""
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    command = [py_spy, "record", "--rate", "250", "--pid", str(pid), "--duration", str(round(seconds))]
    subprocess.run([*command, "--format", "raw", "-o", str(path)], check=True, capture_output=True)


def addon_share(stacks: Path, top: int = 12) -> str:
    """The share of the proxy's samples spent in the addon, and where: each sample counts for the innermost frame
    of the addon's own code, with the first frame it called outside it (where the addon calls a library)."""
    package = f"({Path(redirect_audit.__file__).parent.name}/"
    total, places = 0, Counter()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        total += int(count)
        inside = [i for i, frame in enumerate(frames) if package in frame]
        if inside:
            callee = frames[inside[-1] + 1].split(" (")[0] if inside[-1] + 1 < len(frames) else "itself"
            places[frames[inside[-1]].split(" (")[0], callee] += int(count)
    in_addon = sum(places.values())
    lines = [f"the addon's code: {in_addon / total:.1%} of {total} samples of the proxy; where:"]
    lines += [f"  {n / total:6.1%}  {function} -> {callee}" for (function, callee), n in places.most_common(top)]
    return "\n".join(lines)


def describe(run: Run) -> str:
    shares = ", ".join(f"{process} {share:.0%}" for process, share in run.cpu_share.items())
    return (
        f"{run.requests_per_second:7.0f} req/s  p50 {run.p50 * 1e3:6.1f} ms  p99 {run.p99 * 1e3:6.1f} ms  "
        f"proxy CPU {run.proxy_cpu_per_request * 1e6:5.0f} µs/req  (CPU: {shares})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time of each run")
    parser.add_argument("--warmup", type=float, default=2.0, help="time before each run's measurement starts")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of A then B")
    parser.add_argument("--connections", type=int, default=64, help="concurrent client connections")
    parser.add_argument("--seed", type=int, default=7, help="seed of the request mix")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="run A and B at the same time in each round (each with its own generator), so that the machine's "
        "load weighs on both alike; the ratio then compares their CPU cost per request",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="instead of the rounds, one run of B with py-spy recording the proxy's stacks into FILE",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="redirect-audit-live-"))
    context = multiprocessing.get_context("spawn")
    upstream_port, ready = free_port(), context.Event()
    upstream_process = context.Process(target=serve_upstream, args=(upstream_port, ready), daemon=True)
    upstream_process.start()
    if not ready.wait(30):
        sys.exit("the upstream did not start")
    upstream = upstream_port, upstream_process.pid
    print(f"upstream on port {upstream_port}; {args.connections} connections, {args.warmup:g} s warm-up, "
          f"{args.seconds:g} s measured per run; reports in {workdir}", flush=True)  # fmt: skip
    try:
        if args.profile:
            profile(workdir, upstream, args)
        else:
            race(workdir, upstream, args)
    finally:
        upstream_process.terminate()
        upstream_process.join()


def console(proxy: ProxyProcess) -> str:
    """What the proxy printed: with -q, only errors."""
    return f"\n  proxy console: {proxy.output.strip()[:2000]}" if proxy.output.strip() else ""


def with_addon(report: Path) -> list[str]:
    return ["-s", addon_script(), "--set", f"redirect_audit_report={report}"]


def profile(workdir: Path, upstream: tuple[int, int], args: argparse.Namespace) -> None:
    report = workdir / "report-profiled.jsonl"
    run, load, _ = run_contender(with_addon(report), workdir, upstream, args, profile=args.profile)
    print(f"B under py-spy: {describe(run)}\n{args.profile} written\n{addon_share(args.profile)}")
    if problems := check_report(report, load):
        sys.exit("\n".join(["B's report does not hold the findings the traffic must produce:", *problems]))


def race(workdir: Path, upstream: tuple[int, int], args: argparse.Namespace) -> None:
    """A and B for the rounds, in turn (B first in every other round) or side by side; every B report checked;
    medians and ratios printed."""
    numbers = itertools.count(1)

    def report_for(name: str) -> Path | None:
        return workdir / f"report-{next(numbers)}.jsonl" if name == "B" else None

    def arguments(report: Path | None) -> list[str]:
        return with_addon(report) if report else []

    def run_once(name: str) -> tuple[Run, dict, ProxyProcess, Path | None]:
        report = report_for(name)
        return *run_contender(arguments(report), workdir, upstream, args), report

    def side_by_side() -> Iterator[tuple[int, str, tuple[Run, dict, ProxyProcess, Path | None]]]:
        for round_ in range(1, args.rounds + 1):
            reports = {name: report_for(name) for name in ("A", "B")}
            together = run_together([arguments(report) for report in reports.values()], workdir, upstream, args)
            for (name, report), result in zip(reports.items(), together, strict=True):
                yield round_, name, (*result, report)

    contenders = {name: functools.partial(run_once, name) for name in ("A", "B")}
    results = side_by_side() if args.side_by_side else in_turn(contenders, args.rounds, swap=True)
    runs: dict[str, list[Run]] = {"A": [], "B": []}
    problems = []
    for round_, name, (run, load, proxy, report) in results:
        runs[name].append(run)
        verdict = ""
        if report is not None:
            wrong = check_report(report, load)
            problems += [f"round {round_}: {problem}" for problem in wrong]
            findings, followed = sum(load["expected"].values()), load["redirects_followed"]
            verdict = "WRONG" if wrong else f"{findings} findings for {followed} redirects followed, as expected"
            verdict = f"  report: {verdict}"
        print(f"round {round_} {name} {describe(run)}{verdict}{console(proxy)}", flush=True)
    summarise(runs)
    if problems:
        sys.exit("\n".join(["B's reports do not hold the findings the traffic must produce:", *problems]))


def summarise(runs: dict[str, list[Run]]) -> None:
    names = {"A": "A mitmdump", "B": "B mitmdump + addon"}
    medians = {}
    print(f"\n{'contender':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'proxy CPU µs/req':>17}")
    for name, results in runs.items():
        median = medians[name] = Run(
            requests_per_second=statistics.median(r.requests_per_second for r in results),
            p50=statistics.median(r.p50 for r in results),
            p99=statistics.median(r.p99 for r in results),
            proxy_cpu_per_request=statistics.median(r.proxy_cpu_per_request for r in results),
            cpu_share={},
        )
        print(
            f"{names[name]:<20} {median.requests_per_second:8.0f} {median.p50 * 1e3:8.1f} {median.p99 * 1e3:8.1f} "
            f"{median.proxy_cpu_per_request * 1e6:17.0f}"
        )
    a, b = medians["A"], medians["B"]
    rounds = zip(runs["A"], runs["B"], strict=True)
    paired = statistics.median(rb.requests_per_second / ra.requests_per_second for ra, rb in rounds)
    print(
        f"B/A requests/s: {b.requests_per_second / a.requests_per_second:.3f} of the medians, {paired:.3f} the median "
        "of the rounds' ratios (target at least 0.97)"
    )
    print(f"added latency: p50 {(b.p50 - a.p50) * 1e3:+.1f} ms, p99 {(b.p99 - a.p99) * 1e3:+.1f} ms")
    added_cpu = b.proxy_cpu_per_request - a.proxy_cpu_per_request
    print(f"added proxy CPU per request: {added_cpu * 1e6:+.0f} µs ({added_cpu / a.proxy_cpu_per_request:+.1%})")


if __name__ == "__main__":
    main()
