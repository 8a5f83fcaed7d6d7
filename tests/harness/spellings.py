"""The client matrix's Location-spelling axis: real clients re-spell a Location before they follow it (decode
`%7e`, percent-encode raw UTF-8, change the case of escapes, encode `|` or `[]`, drop a default port). Is each
follow-up paired with its redirect whatever spelling the client sent?

Named hosts behind the proxy (a virtual upstream: the proxy forwards to it as its upstream proxy) make default
ports and upper-case hosts real. What each client sent is read from the upstream's record of what arrived;
whether the proxy paired it, from a probe rule that fires on every pairing.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redirect_audit.demo.tls import self_signed

from .clients import send
from .process import ProxyProcess
from .upstream import Arrival, ScenarioUpstream

START = "http://a.example.test"
# The Location as the server writes it; {tag} makes each run's URL its own.
SPELLINGS = {
    "%7e": "/{tag}/%7euser",
    "%41": "/{tag}/%41%42c",
    "raw UTF-8": "/{tag}/caf\u00e9",
    "lower-case escapes": "/{tag}/caf%c3%a9",
    "| in the query": "/{tag}/q?a=1|2",
    "[] in the query": "/{tag}/q?a[]=1&a[]=2",
    "%2F in a segment": "/{tag}/a%2Fb",
    "dot segments": "/{tag}/x/../y/./z",
    "empty query": "/{tag}/e?",
    "default port": "http://b.example.test:80/{tag}/p",
    "upper-case host": "http://B.Example.TEST/{tag}/p",
}
PROBE = """rules:
  - id: paired
    title: Follow-up paired
    severity: info
    description: Fires on every follow-up the proxy pairs with a redirect.
    when: {}
"""


@dataclass
class Outcome:
    client: str
    spelling: str
    tag: str
    arrival: Arrival | None = None  # the follow-up as the upstream received it
    paired: bool = False  # the proxy paired a follow-up with this redirect
    not_followed: bool = False  # the proxy reported the redirect as not followed

    def cell(self) -> str:
        if self.arrival is None:
            return "not followed" + (" (reported)" if self.not_followed else "")
        sent = self.arrival.path.split(f"/{self.tag}/", 1)[-1]
        host = "" if self.arrival.origin == START else f"{self.arrival.origin.removeprefix('http://')} "
        verdict = "paired" if self.paired and not self.not_followed else "NOT PAIRED"
        return f"{verdict}: {host}…/{sent}"


class World:
    """A virtual upstream for every *.example.test host, and a proxy in front of it."""

    def __init__(self, workdir: Path) -> None:
        self.upstream = ScenarioUpstream.virtual(self_signed(workdir, ("localhost",))).start()
        probe = workdir / "paired.yaml"
        probe.write_text(PROBE)
        self.proxy = ProxyProcess.before(self.upstream, workdir, "--rules", str(probe))
        self._tags = itertools.count()

    def url(self, spelling: str) -> tuple[str, str]:
        """(the redirecting URL, its tag) for one run of a spelling."""
        tag = f"s{next(self._tags)}"
        return self.upstream.go(302, SPELLINGS[spelling].format(tag=tag), START) + f"?tag={tag}", tag

    def close(self, outcomes: list[Outcome]) -> None:
        """Stop everything and fill in what arrived and what the proxy made of it."""
        self.proxy.stop()
        self.upstream.stop()
        findings = self.proxy.findings()
        for outcome in outcomes:
            mine = [f for f in findings if f["redirect_url"].endswith(f"?tag={outcome.tag}")]
            outcome.paired = any(f["rule"] == "paired" for f in mine)
            outcome.not_followed = any(f["rule"] == "not-followed" for f in mine)
            arrivals = [a for a in self.upstream.arrivals if f"/{outcome.tag}/" in a.path]
            outcome.arrival = arrivals[0] if arrivals else None


def run(clients: list[str], browser: bool = False, workdir: Path | None = None) -> list[Outcome]:
    """Every spelling for every client (and Chromium's fetch() and navigation, with `browser`)."""
    world = World(workdir or Path(tempfile.mkdtemp(prefix="redirect-audit-spellings-")))
    outcomes: list[Outcome] = []
    try:
        for client in clients:
            for spelling in SPELLINGS:
                url, tag = world.url(spelling)
                send(client, "GET", url, proxy=world.proxy.url, timeout=10)
                outcomes.append(Outcome(client, spelling, tag))
        if browser:
            outcomes += _chromium(world)
    finally:
        world.close(outcomes)
    return outcomes


def _chromium(world: World) -> list[Outcome]:
    from .browser import chromium, page_context

    outcomes = []
    with chromium(world.proxy.url) as browser, page_context(browser) as context:
        page = context.new_page()
        page.goto(f"{START}/page")

        def navigate(url: str) -> None:
            tab = context.new_page()
            try:
                tab.goto(url)
            finally:
                tab.close()

        drivers: dict[str, Callable[[str], object]] = {
            "chromium-fetch": lambda url: page.evaluate("url => fetch(url).then(r => r.status, String)", url),
            "chromium-navigation": navigate,
        }
        for client, drive in drivers.items():
            for spelling in SPELLINGS:
                url, tag = world.url(spelling)
                drive(url)
                outcomes.append(Outcome(client, spelling, tag))
    return outcomes


def rows(outcomes: list[Outcome]) -> tuple[list[str], list[tuple[str, list[Outcome]]]]:
    """(clients, [(spelling, each client's outcome)]) for the tables."""
    clients = list(dict.fromkeys(o.client for o in outcomes))
    by_spelling = {spelling: {o.client: o for o in outcomes if o.spelling == spelling} for spelling in SPELLINGS}
    return clients, [(spelling, [cells[c] for c in clients]) for spelling, cells in by_spelling.items()]


def markdown(outcomes: list[Outcome]) -> str:
    clients, table = rows(outcomes)
    out = [
        "## Location spellings: is every follow-up paired?",
        "",
        "Each client followed `302 Location: <spelling>` from `http://a.example.test/...`; the cell says whether the "
        "proxy paired the follow-up with its redirect, and what the client sent after `/<tag>/` (with the host "
        "when it left `a.example.test`).",
        "",
        "| spelling | Location | " + " | ".join(clients) + " |",
        "|---|---|" + "---|" * len(clients),
    ]
    for spelling, cells in table:
        cells = [spelling, f"`{SPELLINGS[spelling].replace('/{tag}', '')}`", *(c.cell() for c in cells)]
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(out) + "\n"
