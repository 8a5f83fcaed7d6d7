"""The client matrix: what real clients send on each follow-up, and which rules fire, through the proxy.

301, 302, 303, 307, 308 x GET, HEAD, POST, PUT, DELETE x same-origin, cross-origin, https->http x a secret
(Authorization, a Cookie header, a custom secret header, form credentials) — for every client this machine
has. What each client sent is read from the upstream's own record of what arrived, never from what the
client's documentation promises.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2

from redirect_audit.demo.tls import self_signed

from .clients import send
from .process import LOOPBACK_ONLY, ProxyProcess
from .upstream import Arrival, ScenarioUpstream

STATUSES = (301, 302, 303, 307, 308)
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE")
RELATIONS = ("same-origin", "cross-origin", "https-to-http")
SECRETS = ("authorization", "cookie", "secret-header", "form")
SECRET_HEADERS = {
    "authorization": ("Authorization", "Bearer m4trix-token"),
    "cookie": ("Cookie", "sid=m4trix-session"),
    "secret-header": ("X-API-Key", "m4trix-key"),
}
FORM_BODY = b"username=alice&password=m4trix-pw"
JSON_BODY = b'{"order": 7, "qty": 3}'
BODY_METHODS = ("POST", "PUT")
# The short names the tables use for rules.
CODES = {
    "method-changed": "MC", "body-dropped": "BD", "body-altered": "BA", "see-other-not-get": "SO",
    "head-became-get": "HG", "method-rewrite-disallowed": "MR", "body-after-get": "BG", "post-became-get": "PG",
    "credentials-forwarded": "CF", "credential-post-307": "CP", "authorization-cross-origin": "AX",
    "cookie-cross-origin": "CX", "secret-header-cross-origin": "SX", "https-downgrade": "HD", "not-followed": "NF",
}  # fmt: skip


@dataclass(frozen=True)
class Case:
    status: int
    method: str
    relation: str
    secret: str

    @property
    def body(self) -> bytes | None:
        if self.method not in BODY_METHODS:
            return None
        return FORM_BODY if self.secret == "form" else JSON_BODY

    @property
    def headers(self) -> dict[str, str]:
        headers = dict([SECRET_HEADERS[self.secret]]) if self.secret in SECRET_HEADERS else {}
        if self.body is not None:
            form = self.secret == "form"
            headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
        return headers


def cases() -> Iterator[Case]:
    for status, method, relation, secret in itertools.product(STATUSES, METHODS, RELATIONS, SECRETS):
        if secret == "form" and method not in BODY_METHODS:
            continue  # form credentials ride in a body
        yield Case(status, method, relation, secret)


@dataclass
class Outcome:
    client: str
    case: Case
    tag: str
    ok: bool
    arrival: Arrival | None = None
    rules: list[str] = field(default_factory=list)

    @property
    def followed(self) -> bool:
        return self.arrival is not None

    @property
    def body(self) -> str:
        """`kept`, `dropped`, `changed`, `added` or `none`, as the upstream received it."""
        sent, got = self.case.body or b"", self.arrival.body if self.arrival else b""
        if not sent:
            return "added" if got else "none"
        if not got:
            return "dropped"
        return "kept" if got == sent else "changed"

    @property
    def secret_sent(self) -> bool:
        """The follow-up carried the secret again."""
        if self.arrival is None:
            return False
        if self.case.secret == "form":
            return b"m4trix-pw" in self.arrival.body
        name, value = SECRET_HEADERS[self.case.secret]
        return value in (self.arrival.header(name) or "")

    def cell(self) -> str:
        if not self.followed:
            return "not followed" + self._codes()
        mark = {"kept": " +body", "dropped": " -body", "changed": " ~body", "added": " +body!", "none": ""}[self.body]
        return f"{self.arrival.method}{mark}{' +secret' if self.secret_sent else ''}{self._codes()}"

    def _codes(self) -> str:
        codes = [CODES.get(rule, rule) for rule in self.rules]
        return f" [{' '.join(codes)}]" if codes else ""


class World:
    """Upstreams (http on two loopback origins, https on one) and a proxy that trusts their certificate."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.http = ScenarioUpstream().start()
        self.https = ScenarioUpstream(("127.0.0.1",), tls=self_signed(workdir)).start()
        self.proxy = ProxyProcess.cli(
            workdir, "--set", f"confdir={workdir}", "--set", "ssl_insecure=true",
            "--set", "connection_strategy=lazy", *LOOPBACK_ONLY,
        )  # fmt: skip
        self.ca = str(workdir / "mitmproxy-ca-cert.pem")
        self._tags = itertools.count()

    def urls(self, case: Case) -> tuple[str, str, str]:
        """(original URL, target URL, tag) for one run of a case."""
        tag = f"m{next(self._tags)}"
        if case.relation == "https-to-http":
            start, target = self.https, self.http.url(f"/t?tag={tag}")
        else:
            start, target = self.http, self.http.url(f"/t?tag={tag}", 1 if case.relation == "cross-origin" else 0)
        return start.go(case.status, target) + f"?tag={tag}", target, tag

    def arrival(self, tag: str) -> Arrival | None:
        """The follow-up as the target received it (a browser's CORS preflight is not it)."""
        found = [a for a in self.http.arrivals_at(f"/t?tag={tag}") if not a.header("access-control-request-method")]
        return found[0] if found else None

    def close(self) -> list[dict]:
        """Stop everything; the report's findings (pending redirects become not-followed at shutdown)."""
        self.proxy.stop()
        self.http.stop()
        self.https.stop()
        return self.proxy.findings()


def run(clients: list[str], chosen: Callable[[Case], bool] = lambda case: True, browser: bool = False,
        workdir: Path | None = None) -> list[Outcome]:  # fmt: skip
    """Every case for every client through one proxy; `browser` adds Chromium's fetch() and forms."""
    world = World(workdir or Path(tempfile.mkdtemp(prefix="redirect-audit-matrix-")))
    outcomes: list[Outcome] = []
    try:
        for client in clients:
            for case in filter(chosen, cases()):
                url, _, tag = world.urls(case)
                result = send(client, case.method, url, proxy=world.proxy.url, headers=case.headers, body=case.body,
                              ca=world.ca, timeout=10)  # fmt: skip
                outcomes.append(Outcome(client, case, tag, result.ok))
        if browser:
            from .browser_clients import run_chromium

            outcomes += run_chromium(world, [case for case in cases() if chosen(case)])
    finally:
        findings = world.close()
    by_tag: dict[str, list[str]] = {}
    for finding in findings:
        tag = finding["redirect_url"].rsplit("tag=", 1)[-1]
        by_tag.setdefault(tag, []).append(finding["rule"])
    for outcome in outcomes:
        outcome.arrival = world.arrival(outcome.tag)
        outcome.rules = sorted(set(by_tag.get(outcome.tag, [])), key=list(CODES).index)
    return outcomes


TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
# The HTML report's stylesheet, read as the package data it is, for the same look.
STYLE = resources.files("redirect_audit.reports.templates").joinpath("style.css").read_text(encoding="utf-8")

LEGEND = (
    "Each cell: the method of the follow-up as the target received it; `+body` the body arrived unchanged, "
    "`-body` it was dropped, `~body` it changed, `+body!` a body appeared; `+secret` the secret was sent again; "
    "`not followed` nothing reached the target. In brackets, the rules that fired: "
    + ", ".join(f"{code} {rule}" for rule, code in CODES.items())
    + "."
)


def _columns(outcomes: list[Outcome]) -> list[str]:
    return list(dict.fromkeys(o.client for o in outcomes))


def _rows(outcomes: list[Outcome]) -> dict[Case, dict[str, Outcome]]:
    rows: dict[Case, dict[str, Outcome]] = {}
    for outcome in outcomes:
        rows.setdefault(outcome.case, {})[outcome.client] = outcome
    return rows


def claim(outcomes: list[Outcome]) -> list[str]:
    """Per client: on 307/308, how often were method and body kept, as the seeds claim for every client?"""
    lines = []
    for client in _columns(outcomes):
        mine = [o for o in outcomes if o.client == client and o.case.status in (307, 308)]
        followed = [o for o in mine if o.followed]
        kept = [o for o in followed if o.arrival.method == o.case.method and o.body in ("kept", "none")]
        lines.append(f"{client}: followed {len(followed)} of {len(mine)} 307/308 redirects, kept method and body "
                     f"on {len(kept)}")  # fmt: skip
    return lines


def markdown(outcomes: list[Outcome], versions: dict[str, str], when: str) -> str:
    clients = _columns(outcomes)
    out = [
        "# Client matrix",
        "",
        f"What real clients sent on each follow-up, through `redirect-audit proxy`, measured {when} with "
        "`scripts/client_matrix.py` (the upstream's own record of what arrived, and the proxy's findings).",
        "",
        "| client | version |",
        "|---|---|",
        *[f"| {client} | {versions.get(client, '?')} |" for client in clients],
        "",
        "## 307 and 308: is the method kept?",
        "",
        *[f"- {line}" for line in claim(outcomes)],
        "",
        "## Every case",
        "",
        LEGEND,
        "",
        "| status | method | relation | secret | " + " | ".join(clients) + " |",
        "|---|---|---|---|" + "---|" * len(clients),
    ]
    for case, by_client in _rows(outcomes).items():
        cells = [by_client[c].cell() if c in by_client else "n/a" for c in clients]
        out.append(f"| {case.status} | {case.method} | {case.relation} | {case.secret} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def html(outcomes: list[Outcome], versions: dict[str, str], when: str, spelled: list | None = None) -> str:
    """The same tables as `markdown` (and the spelling axis's, given its outcomes), in the HTML report's style."""
    from .spellings import SPELLINGS
    from .spellings import rows as spelling_rows

    clients = _columns(outcomes)
    rows = [
        (case, [(by_client[c].cell(), bool(by_client[c].rules)) if c in by_client else ("n/a", False) for c in clients])
        for case, by_client in _rows(outcomes).items()
    ]
    spelling_clients, spelling_table = spelling_rows(spelled or [])
    return TEMPLATES.get_template("matrix.html.j2").render(
        style=STYLE, clients=clients, versions=versions, when=when, claims=claim(outcomes), legend=LEGEND, rows=rows,
        spelling_clients=spelling_clients, spellings=[(name, SPELLINGS[name].replace("/{tag}", ""), cells)
                                                     for name, cells in spelling_table if cells],
    )  # fmt: skip
