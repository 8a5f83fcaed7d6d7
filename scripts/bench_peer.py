#!/usr/bin/env python3
"""A peer: HTTPolice (`httpolice -i har`) against `redirect-audit analyze` on the same HAR files.

  1. HTTPolice is installed into its own virtualenv, `.venv-httpolice` beside `.venv`, made with the same
     interpreter and pinned (PEER_PINS); it is never a dependency of this project.
  2. One HAR 1.2 file per redirect problem (SCENARIOS) is written, and a large HAR that repeats them all in
     turn, each copy under its own path, until it holds `--entries` entries.
  3. Time: `httpolice -i har FILE` and `redirect-audit analyze -q FILE`, both as subprocesses (both pay
     interpreter start-up), alternating, `--rounds` times each, on a one-entry HAR (start-up) and on the large
     one; medians and their ratios.
  4. Coverage: every scenario HAR, and every real HAR in tests/data/har that is JSON with entries, through both
     tools: HTTPolice's notices from its text report (`-o text`), redirect-audit's rules from its JSON Lines
     report (`--report`). Which HTTPolice notices concern redirects is decided from its own notices.xml.

It prints the Markdown for docs/performance.md ("A peer: HTTPolice"): versions, the time table and the
coverage table. Every figure and every cell comes from the tools run here.

    .venv/bin/python scripts/bench_peer.py --rounds 5 --entries 3000
"""

from __future__ import annotations

import argparse
import http
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib.metadata import version
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bench_rounds import alternate

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REAL_HARS = ROOT / "tests" / "data" / "har"
PEER_VENV = ROOT / ".venv-httpolice"
# HTTPolice 0.9.0 (its last release, 2019) builds its grammar with bitstring's pre-4 API (`BitArray(256)`):
# with bitstring 4 or 5 `import httpolice` itself raises TypeError. The rest is what 0.9.0 resolved to on
# Python 3.11, pinned so that every run measures the same peer.
PEER_PINS = [
    "httpolice==0.9.0",
    "bitstring==3.1.9",
    "brotli==1.2.1",
    "defusedxml==0.7.1",
    "dominate==2.9.1",
    "lxml==6.1.3",
]


# --- HAR files -------------------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@dataclass(frozen=True)
class Step:
    """One request and its response, to be written as a HAR entry the way a browser exports it."""

    method: str
    url: str
    status: int
    location: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # request headers besides Host, User-Agent, Accept and content
    body: str | None = None  # request body; "" is an empty body sent with Content-Length: 0
    content_type: str = FORM


def har_entry(step: Step, started: datetime) -> dict:
    parts = urlsplit(step.url)
    request_headers = [("Host", parts.netloc), ("User-Agent", USER_AGENT), ("Accept", "*/*"), *step.headers]
    request_body = (step.body or "").encode()
    if step.body is not None:
        request_headers += [("Content-Type", step.content_type), ("Content-Length", str(len(request_body)))]
    cookie_header = next((value for name, value in step.headers if name == "Cookie"), "")
    cookies = [pair.strip().partition("=") for pair in cookie_header.split(";") if pair.strip()]
    request = {
        "method": step.method,
        "url": step.url,
        "httpVersion": "HTTP/1.1",
        "cookies": name_values((name, value) for name, _, value in cookies),
        "headers": name_values(request_headers),
        "queryString": name_values(parse_qsl(parts.query, keep_blank_values=True)),
        "headersSize": -1,
        "bodySize": len(request_body),
    }
    if request_body:
        request["postData"] = {"mimeType": step.content_type, "text": step.body}
        if step.content_type == FORM:
            request["postData"]["params"] = name_values(parse_qsl(step.body, keep_blank_values=True))
    phrase = http.HTTPStatus(step.status).phrase
    page = f"<!doctype html><title>{phrase}</title><p>{phrase}</p>".encode()
    page_sent = b"" if step.method == "HEAD" else page
    response_headers = [("Date", format_datetime(started, usegmt=True)), ("Server", "nginx")]
    if step.location is not None:
        response_headers.append(("Location", step.location))
    response_headers += [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))]
    response = {
        "status": step.status,
        "statusText": phrase,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": name_values(response_headers),
        "content": {"size": len(page_sent), "mimeType": "text/html; charset=utf-8", "text": page_sent.decode()},
        "redirectURL": step.location or "",
        "headersSize": -1,
        "bodySize": len(page_sent),
    }
    return {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": 12.5,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0.1, "wait": 12.3, "receive": 0.1},
        "serverIPAddress": "192.0.2.10",
    }


def name_values(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def write_har(path: Path, steps: Iterable[Step]) -> None:
    """Write the steps as one HAR 1.2 file, an entry every 50 ms."""
    started = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    entries = [har_entry(step, started + timedelta(milliseconds=50 * n)) for n, step in enumerate(steps)]
    document = {
        "log": {
            "version": "1.2",
            "creator": {"name": "redirect-audit scripts/bench_peer.py", "version": "1"},
            "pages": [],
            "entries": entries,
        }
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


# --- Scenarios: one redirect problem each (a clean one where the name says so) ------------------------------

API = "https://api.example.com"
SHOP = "https://shop.example.com"
IDP = "https://idp.example.com"
PARTNER = "https://partner.example.net"
EVIL = "https://evil.example.org"
ORDER = '{"order": 1042, "items": [3, 7]}'
LOGIN = "username=alice&password=hunter2"
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
SESSION = "session=4f1c2a9e7b; theme=dark"
TOKEN = "ya29.a0AfH6SMBx3kq"


@dataclass(frozen=True)
class Scenario:
    name: str
    problem: str
    steps: Callable[[str], list[Step]]  # given a path prefix, so that copies in the large HAR never collide


SCENARIOS = [
    Scenario(
        "307-post-became-get",
        "307 answered to a POST; the follow-up is a GET",
        lambda p: [
            Step("POST", f"{API}{p}/orders", 307, f"{API}{p}/v2/orders", body=ORDER, content_type=JSON),
            Step("GET", f"{API}{p}/v2/orders", 200),
        ],
    ),
    Scenario(
        "307-body-dropped",
        "307 answered to a POST; the follow-up POST has an empty body",
        lambda p: [
            Step("POST", f"{API}{p}/orders", 307, f"{API}{p}/v2/orders", body=ORDER, content_type=JSON),
            Step("POST", f"{API}{p}/v2/orders", 200, body="", content_type=JSON),
        ],
    ),
    Scenario(
        "303-followed-by-post",
        "303 answered to a POST; the follow-up is a POST again",
        lambda p: [
            Step("POST", f"{SHOP}{p}/cart", 303, f"{p}/cart/1042", body="item=7&qty=1"),
            Step("POST", f"{SHOP}{p}/cart/1042", 200, body="item=7&qty=1"),
        ],
    ),
    Scenario(
        "301-post-became-get",
        "301 answered to a POST; the follow-up is a GET",
        lambda p: [
            Step("POST", f"{SHOP}{p}/subscribe", 301, f"{p}/newsletter/subscribe", body="email=a%40example.com"),
            Step("GET", f"{SHOP}{p}/newsletter/subscribe", 200),
        ],
    ),
    Scenario(
        "302-post-became-get",
        "302 answered to a POST; the follow-up is a GET",
        lambda p: [
            Step("POST", f"{SHOP}{p}/search", 302, f"{p}/results", body="q=boots"),
            Step("GET", f"{SHOP}{p}/results", 200),
        ],
    ),
    Scenario(
        "head-became-get",
        "301 answered to a HEAD; the follow-up is a GET",
        lambda p: [
            Step("HEAD", f"{API}{p}/health", 301, f"{p}/healthz"),
            Step("GET", f"{API}{p}/healthz", 200),
        ],
    ),
    Scenario(
        "location-missing",
        "302 without a Location header",
        lambda p: [Step("GET", f"{SHOP}{p}/download", 302)],
    ),
    Scenario(
        "location-relative",
        "302 with a relative Location (`../api/intro`), followed",
        lambda p: [
            Step("GET", f"{SHOP}{p}/docs/guide/intro", 302, "../api/intro"),
            Step("GET", f"{SHOP}{p}/docs/api/intro", 200),
        ],
    ),
    Scenario(
        "location-protocol-relative",
        "302 with a protocol-relative Location (`//evil.example.org/...`), followed",
        lambda p: [
            Step("GET", f"{SHOP}{p}/go", 302, "//evil.example.org/landing"),
            Step("GET", f"{EVIL}/landing", 200),
        ],
    ),
    Scenario(
        "location-backslash",
        "302 with a backslash Location (`/\\evil.example.org/...`), followed as browsers do",
        lambda p: [
            Step("GET", f"{SHOP}{p}/go", 302, "/\\evil.example.org/landing"),
            Step("GET", f"{EVIL}/landing", 200),
        ],
    ),
    Scenario(
        "https-downgrade",
        "302 from https to http, followed",
        lambda p: [
            Step("GET", f"{SHOP}{p}/checkout", 302, f"http://shop.example.com{p}/checkout/done"),
            Step("GET", f"http://shop.example.com{p}/checkout/done", 200),
        ],
    ),
    Scenario(
        "authorization-cross-origin",
        "302 to another origin; the follow-up re-sends Authorization",
        lambda p: [
            Step(
                "GET", f"{API}{p}/reports/7", 302, f"{PARTNER}{p}/reports/7.pdf", headers=(("Authorization", BEARER),)
            ),
            Step("GET", f"{PARTNER}{p}/reports/7.pdf", 200, headers=(("Authorization", BEARER),)),
        ],
    ),
    Scenario(
        "cookie-cross-origin",
        "302 to another origin; the follow-up re-sends the Cookie",
        lambda p: [
            Step("GET", f"{SHOP}{p}/account", 302, f"{PARTNER}{p}/account", headers=(("Cookie", SESSION),)),
            Step("GET", f"{PARTNER}{p}/account", 200, headers=(("Cookie", SESSION),)),
        ],
    ),
    Scenario(
        "login-post-307-cross-origin",
        "password form POST answered 307 to another origin, re-posted there",
        lambda p: [
            Step("POST", f"{IDP}{p}/login", 307, f"{PARTNER}{p}/session", body=LOGIN),
            Step("POST", f"{PARTNER}{p}/session", 200, body=LOGIN),
        ],
    ),
    Scenario(
        "token-in-location",
        "302 whose Location carries `access_token` in its query, followed",
        lambda p: [
            Step("GET", f"{IDP}{p}/authorize?client_id=app", 302, f"{PARTNER}{p}/callback?access_token={TOKEN}"),
            Step("GET", f"{PARTNER}{p}/callback?access_token={TOKEN}", 200),
        ],
    ),
    Scenario(
        "open-redirect",
        "302 to the other-origin URL given in `?next=`, followed",
        lambda p: [
            Step("GET", f"{SHOP}{p}/login?next=https%3A%2F%2Fevil.example.org%2Fphish", 302, f"{EVIL}/phish"),
            Step("GET", f"{EVIL}/phish", 200),
        ],
    ),
    Scenario(
        "redirect-loop",
        "/a → /b → /a → /b: a loop between two URLs (the client gives up)",
        lambda p: [
            Step("GET", f"{SHOP}{p}/loop/a", 302, f"{p}/loop/b"),
            Step("GET", f"{SHOP}{p}/loop/b", 302, f"{p}/loop/a"),
            Step("GET", f"{SHOP}{p}/loop/a", 302, f"{p}/loop/b"),
            Step("GET", f"{SHOP}{p}/loop/b", 302, f"{p}/loop/a"),
        ],
    ),
    Scenario(
        "redirect-loop-same-uri",
        "/home → /home: a 302 to its own URL, twice (the client gives up)",
        lambda p: [
            Step("GET", f"{SHOP}{p}/home", 302, f"{p}/home"),
            Step("GET", f"{SHOP}{p}/home", 302, f"{p}/home"),
        ],
    ),
    Scenario(
        "clean-303-after-post",
        "clean: 303 answered to a form POST, followed with GET",
        lambda p: [
            Step("POST", f"{SHOP}{p}/orders", 303, f"{p}/orders/1042", body="item=7&qty=1"),
            Step("GET", f"{SHOP}{p}/orders/1042", 200),
        ],
    ),
    Scenario(
        "clean-307-body-preserved",
        "clean: 307 answered to a POST, re-sent with the same method and body",
        lambda p: [
            Step("POST", f"{API}{p}/orders", 307, f"{API}{p}/v2/orders", body=ORDER, content_type=JSON),
            Step("POST", f"{API}{p}/v2/orders", 200, body=ORDER, content_type=JSON),
        ],
    ),
]


def mixed_steps(entries: int) -> tuple[list[Step], Counter[str]]:
    """The scenarios in turn, each copy under its own path prefix, until there are `entries` steps or more;
    and how many copies of each scenario that took."""
    steps: list[Step] = []
    copies: Counter[str] = Counter()
    while len(steps) < entries:
        for scenario in SCENARIOS:
            steps += scenario.steps(f"/m{len(steps)}")
            copies[scenario.name] += 1
            if len(steps) >= entries:
                break
    return steps, copies


# --- Running the two tools ---------------------------------------------------------------------------------


def install_httpolice(venv: Path) -> Path:
    """The httpolice command of the peer's own virtualenv, made (with this interpreter) and pinned if needed."""
    if not (venv / "bin" / "python").exists():
        print(f"creating {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # pip is quick when the pins are already satisfied, and repairs the virtualenv when they are not.
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *PEER_PINS], check=True)
    return venv / "bin" / "httpolice"


def run_httpolice(httpolice: Path, har: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(httpolice), "-i", "har", "-o", "text", str(har)], capture_output=True, text=True)


def run_analyze(har: Path, *options: str) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "redirect-audit"), "analyze", "-q", *options, str(har)]
    return subprocess.run(argv, capture_output=True, text=True, check=True)


@dataclass(frozen=True)
class Notice:
    """One line of HTTPolice's text report, with the message it was reported on."""

    id: int
    severity: str  # error, comment or debug
    title: str  # as HTTPolice printed it
    message: str  # "302 response", "GET request"


def httpolice_notices(report: str) -> list[Notice]:
    """The notices of a text report. It prints a marker line before each request and each response that has
    notices (`------------ request: GET /home`, `------------ response: 302 Found`), then one line per notice:
    `C 1079 StatusCode(302) response should have a Location header`."""
    severities = {"E": "error", "C": "comment", "D": "debug"}
    notices, message = [], "exchange"
    for line in report.splitlines():
        if line.startswith("-" * 12):
            kind, _, first_words = line.lstrip("- ").partition(": ")
            message = f"{first_words.split()[0]} {kind}" if first_words else "exchange"
        elif notice := re.match(r"([EDC]) (\d+) (.*)", line):
            notices.append(Notice(int(notice.group(2)), severities[notice.group(1)], notice.group(3), message))
    return notices


def redirect_notice_ids(httpolice: Path) -> set[int]:
    """The ids of HTTPolice's notices that concern redirects, read from its own notices.xml: a title that speaks
    of redirection, or a title or explanation that names the Location header (`<h>Location</h>`) or a 3xx
    status code other than 304 Not Modified (`<st>302</st>`)."""
    package = subprocess.run(
        [str(httpolice.parent / "python"), "-c", "import httpolice, os; print(os.path.dirname(httpolice.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ids = set()
    for notice in ElementTree.parse(Path(package) / "notices.xml").getroot():
        title = notice.find("title")
        wording = [title, *notice.findall("explain")]
        marked_up = [(element.tag, element.text) for part in wording for element in part.iter()]
        if (
            re.search(r"redirect", "".join(title.itertext()), re.IGNORECASE)
            or ("h", "Location") in marked_up
            or any(tag == "st" and re.fullmatch(r"30[0-35-8]", text or "") for tag, text in marked_up)
        ):
            ids.add(int(notice.get("id")))
    return ids


def concerns_redirects(notice: Notice, redirect_ids: set[int]) -> bool:
    # A generic notice (1000, "Syntax error in <var/> header") concerns redirects when it names Location.
    return notice.id in redirect_ids or re.search(r"(?<!-)\bLocation\b", notice.title) is not None


@dataclass
class Coverage:
    """What each tool reported on one HAR file."""

    name: str
    problem: str
    httpolice_error: str | None  # HTTPolice refused the file: its message
    notices: list[Notice]
    findings: list[dict]  # redirect-audit's JSON Lines records


def cover(name: str, problem: str, har: Path, httpolice: Path, workdir: Path) -> Coverage:
    peer = run_httpolice(httpolice, har)
    report = workdir / f"{har.stem}.jsonl"
    report.unlink(missing_ok=True)  # --report appends
    run_analyze(har, "--report", str(report))
    findings = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    error = peer.stderr.strip().replace(f"{har}: ", "") if peer.returncode else None
    return Coverage(name, problem, error, httpolice_notices(peer.stdout), findings)


# --- Markdown -------------------------------------------------------------------------------------------------

STAGES = {"response": "3xx alone", "followup": "pair", "no-followup": "no follow-up"}


def counted(labels: Iterable[str]) -> list[str]:
    """Each label once, in order of first appearance, with ×N when it came N times."""
    counts = Counter(labels)
    return [label if count == 1 else f"{label} ×{count}" for label, count in counts.items()]


def coverage_row(coverage: Coverage, redirect_ids: set[int]) -> str:
    if coverage.httpolice_error is not None:
        redirect_cell, other_cell = f"refused the file: `{coverage.httpolice_error}`", "—"
    else:
        redirect = [n for n in coverage.notices if concerns_redirects(n, redirect_ids)]
        other = [n for n in coverage.notices if not concerns_redirects(n, redirect_ids)]
        redirect_cell = (
            "<br>".join(counted(f"{n.id} {n.title} ({n.severity}, on {n.message})" for n in redirect)) or "—"
        )
        other_cell = ", ".join(counted(str(n.id) for n in other)) or "—"
    rules = "<br>".join(counted(f"`{f['rule']}` ({STAGES.get(f['stage'], f['stage'])})" for f in coverage.findings))
    return f"| `{coverage.name}`: {coverage.problem} | {redirect_cell} | {other_cell} | {rules or '—'} |"


def coverage_table(coverages: list[Coverage], redirect_ids: set[int]) -> list[str]:
    lines = [
        "| HAR: problem | HTTPolice: notices about redirects | HTTPolice: other notices | redirect-audit: rules |",
        "|---|---|---|---|",
        *(coverage_row(coverage, redirect_ids) for coverage in coverages),
    ]
    others = {
        n.id: n.title for c in coverages for n in c.notices if not concerns_redirects(n, redirect_ids)
    }  # a title per id (a title with a variable shows its first appearance)
    lines += ["", "Other notices: " + "; ".join(f"{nid} {others[nid]}" for nid in sorted(others)) + "."]
    return lines


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    os_release = dict(
        line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
    ).get("PRETTY_NAME", platform.system())
    return f"{os.cpu_count()} cores ({cpu}), {os_release.strip(chr(34))}"


def versions(httpolice: Path) -> str:
    peer = subprocess.run([str(httpolice), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return (
        f"Python {platform.python_version()}, {peer}, mitmproxy {version('mitmproxy')}, "
        f"redirect-audit {version('redirect-audit')}"
    )


# --- Main ---------------------------------------------------------------------------------------------------


def cover_all(httpolice: Path, workdir: Path) -> list[Coverage]:
    """Both tools on every scenario HAR (written into workdir) and on every real HAR that is JSON with entries."""
    coverages = []
    for scenario in SCENARIOS:
        har = workdir / f"{scenario.name}.har"
        write_har(har, scenario.steps(""))
        coverages.append(cover(scenario.name, scenario.problem, har, httpolice, workdir))
    for har in sorted(REAL_HARS.glob("*.har")):
        try:
            entries = json.loads(har.read_text(encoding="utf-8-sig"))["log"]["entries"]
        except (ValueError, KeyError, TypeError) as error:
            print(f"left out {har.name}: not a HAR both tools can read whole ({type(error).__name__}: {error})")
            continue
        if not entries:
            print(f"left out {har.name}: no entries")
            continue
        coverages.append(cover(har.name, "real export (tests/data/har)", har, httpolice, workdir))
    return coverages


def check_mixed(peer_run, analyze_run, copies: Counter[str], coverages: list[Coverage]) -> None:
    """The large HAR is the scenarios repeated, so each tool should report on it what it reported on them,
    times the copies; a difference means the copies interfere or a tool reads the large file differently."""
    by_name = {coverage.name: coverage for coverage in coverages}
    expected_notices = sum(len(by_name[name].notices) * count for name, count in copies.items())
    expected_findings = sum(len(by_name[name].findings) * count for name, count in copies.items())
    notices = len(httpolice_notices(peer_run.stdout))
    summary = re.search(r"(\d+) findings", analyze_run.stdout)
    findings = int(summary.group(1)) if summary else 0
    for tool, got, expected, what in [
        ("HTTPolice", notices, expected_notices, "notices"),
        ("redirect-audit", findings, expected_findings, "findings"),
    ]:
        verdict = "as expected" if got == expected else "MISMATCH"
        print(f"large HAR: {tool} {got} {what}; the scenarios' {what} times their copies: {expected} ({verdict})")


PEER, OURS = "httpolice -i har", "redirect-audit analyze -q"


def time_both(httpolice: Path, har: Path, rounds: int) -> tuple[dict[str, float], dict[str, object]]:
    print(f"timing {har.name}:", flush=True)
    medians, last_runs = alternate(
        {PEER: lambda: run_httpolice(httpolice, har), OURS: lambda: run_analyze(har)}, rounds
    )
    if last_runs[PEER].returncode:
        sys.exit(f"httpolice failed on {har}: {last_runs[PEER].stderr.strip()}")
    return medians, last_runs


def time_table(rows: list[tuple[str, int, dict[str, float]]]) -> list[str]:
    """Medians per HAR and their ratio. (No cost per entry from the difference of two HARs' medians: on a
    shared machine that difference of noisy figures swung from 9× to 21× between runs.)"""
    lines = [
        f"| HAR | entries | `{PEER}` | `{OURS}` | HTTPolice / redirect-audit |",
        "|---|---|---|---|---|",
    ]
    for name, entries, medians in rows:
        ratio = medians[PEER] / medians[OURS]
        lines.append(f"| {name} | {entries:,} | {medians[PEER]:.2f} s | {medians[OURS]:.2f} s | **{ratio:.2f}×** |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each tool on each HAR (default 3)")
    parser.add_argument("--entries", type=int, default=3000, help="entries of the large HAR (default 3000)")
    parser.add_argument("--workdir", type=Path, help="where to write the HAR files (default: a new temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="redirect-audit-peer-"))
    workdir.mkdir(parents=True, exist_ok=True)

    httpolice = install_httpolice(PEER_VENV)
    redirect_ids = redirect_notice_ids(httpolice)
    print(f"{versions(httpolice)}; HAR files in {workdir}", flush=True)
    coverages = cover_all(httpolice, workdir)

    # The one-entry scenario shows what start-up costs each tool; the large HAR, what the work costs.
    small = workdir / "location-missing.har"
    big = workdir / "mixed.har"
    steps, copies = mixed_steps(args.entries)
    write_har(big, steps)
    size = f"{big.stat().st_size / 1e6:.1f} MB"
    print(f"{big}: {len(steps)} entries, {size}", flush=True)
    small_medians, _ = time_both(httpolice, small, args.rounds)
    big_medians, last_runs = time_both(httpolice, big, args.rounds)
    check_mixed(last_runs[PEER], last_runs[OURS], copies, coverages)

    print("\n--- Markdown for docs/performance.md ---\n")
    print(f"```sh\n.venv/bin/python scripts/bench_peer.py --rounds {args.rounds} --entries {args.entries}\n```\n")
    print(f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; {versions(httpolice)}.")
    print(f"HTTPolice installed in `.venv-httpolice` with `pip install {' '.join(PEER_PINS)}`.\n")
    print(f"Medians of {args.rounds} alternating rounds:\n")
    rows = [(f"`{small.name}` (start-up)", 1, small_medians), (f"mixed scenarios, {size}", len(steps), big_medians)]
    print("\n".join(time_table(rows)) + "\n")
    print("\n".join(coverage_table(coverages, redirect_ids)))
    print(f"\nNotices counted as about redirects: {', '.join(map(str, sorted(redirect_ids)))} (from notices.xml),")
    print("and any notice whose printed title names the Location header.")


if __name__ == "__main__":
    main()
