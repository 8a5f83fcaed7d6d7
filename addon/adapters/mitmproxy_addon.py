"""The mitmproxy addon: live traffic and recordings (`mitmdump -r`) through the auditor.

Findings are logged at WARNING (ERROR would make `mitmdump -r` exit 1), written to the report, and
put on the flow they concern: `marked`, a `comment` naming the rules, `metadata["redirect_audit"]`.
Follow-up findings annotate the follow-up flow; findings judged on the 3xx alone annotate the 3xx.
An exception for one flow is logged and swallowed: the proxy's traffic never depends on the auditor.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import sys
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from mitmproxy import command, ctx, exceptions, http
from mitmproxy import types as mtypes

from ..auditor import Auditor, Finding
from ..engine.model import SEVERITIES, Request
from ..engine.secrets import (
    DEFAULT_MAX_PARSE_BYTES,
    DEFAULT_REDIRECT_PARAMS,
    DEFAULT_SECRET_FIELDS,
    DEFAULT_SECRET_HEADERS,
    SecretPolicy,
    redact_url,
)
from ..reports.blocked import blocked_header, blocked_page
from ..reports.session import Session
from ..rules.pack import RuleSet
from ..rules.yamlnodes import RulesError
from .flows import WITHHELD_KEY, request_of, response_of, withheld_state

logger = logging.getLogger("redirect_audit")

MARK = ":warning:"
BLOCKED_MARK = ":no_entry:"
BLOCKED_STATUS = 403
METADATA_KEY = "redirect_audit"
TICK_SECONDS = 1.0


def parse_timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"redirect_audit_follow_timeout: not a number of seconds: {text!r}") from None
    if not 0 < seconds < float("inf"):
        raise ValueError(f"redirect_audit_follow_timeout: must be positive, got {text!r}")
    return seconds


_AUDITOR_OPTIONS = {
    "redirect_audit_rules",
    "redirect_audit_follow_timeout",
    "redirect_audit_max_pending",
    "redirect_audit_block_on",
    "redirect_audit_secret_fields",
    "redirect_audit_secret_headers",
    "redirect_audit_redirect_params",
    "redirect_audit_max_parse_bytes",
}


def _auditor_settings(options, key: bytes | None) -> dict:
    """Auditor arguments from the options; ValueError or RulesError names what is wrong."""
    if options.redirect_audit_max_pending < 1:
        raise ValueError("redirect_audit_max_pending: must be at least 1")
    if options.redirect_audit_max_parse_bytes < 0:
        raise ValueError("redirect_audit_max_parse_bytes: must not be negative")
    block_on = options.redirect_audit_block_on
    if block_on is not None and block_on not in SEVERITIES:
        raise ValueError(f"redirect_audit_block_on: one of {', '.join(SEVERITIES)}, not {block_on!r}")
    policy = SecretPolicy(
        fields=frozenset(name.lower() for name in options.redirect_audit_secret_fields),
        headers=frozenset(name.lower() for name in options.redirect_audit_secret_headers),
        redirect_params=frozenset(name.lower() for name in options.redirect_audit_redirect_params),
        max_parse_bytes=options.redirect_audit_max_parse_bytes,
        **({"key": key} if key else {}),
    )
    return {
        "rules": RuleSet.load(list(options.redirect_audit_rules)),
        "follow_timeout": parse_timeout(options.redirect_audit_follow_timeout),
        "max_pending": options.redirect_audit_max_pending,
        "policy": policy,
        "block_on": block_on,
    }


OPTION_PREFIX = "redirect_audit_"


@dataclass(slots=True)
class _FlowState:
    request: Request
    answered: bool = False  # its response was judged
    page: bytes | None = None  # the body of what replaced its blocked 3xx


class _Deliver:
    """A replacing page's body as the stream of a response: nothing of the upstream's body, then the page."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def __call__(self, chunk: bytes) -> list[bytes]:
        if chunk or not self._content:
            return []
        content, self._content = self._content, b""
        return [content]


def _may_stream(request: http.Request) -> bool:
    """Whether the body may stream past the proxy (stream_large_bodies): mitmproxy streams one larger than the
    option before the headers hook, and one of unknown length as it arrives. (The option is mitmproxy's proxy
    core's: a bare test context has none.)"""
    if request.stream:
        return True
    if not getattr(ctx.options, "stream_large_bodies", None) or "content-length" in request.headers:
        return False
    return "transfer-encoding" in request.headers or not request.http_version.startswith("HTTP/1")


def _refuse_unknown_options(options) -> None:
    """A misspelt option must not start the proxy with block mode silently off. mitmproxy keeps a `--set` (or
    config.yaml key) it does not know as deferred, for an addon that may register it later; ours are all
    registered by now, so a deferred one of ours is a typo."""
    unknown = sorted(name for name in options.deferred if name.startswith(OPTION_PREFIX))
    if not unknown:
        return
    known = [name for name in options.keys() if name.startswith(OPTION_PREFIX)]  # noqa: SIM118 - no dict
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name}" + (f" (did you mean {close[0]}?)" if close else ""))
    print(f"redirect-audit: unknown option {', '.join(hints)}", file=sys.stderr, flush=True)
    raise SystemExit(2)


class RedirectAudit:
    def __init__(self) -> None:
        self.auditor: Auditor | None = None
        self.session: Session | None = None
        self._live_seen = False
        self._last_time = 0.0
        self._ticker: asyncio.Task | None = None
        # Each flow's request as the request hook read it, for its response hooks: one conversion per flow,
        # and a body digested for pairing is not digested again if the flow is redirected in turn.
        self._flows: weakref.WeakKeyDictionary[http.HTTPFlow, _FlowState] = weakref.WeakKeyDictionary()

    def load(self, loader) -> None:
        add = loader.add_option
        add(
            "redirect_audit_rules",
            Sequence[str],
            [],
            "Rule files applied after the default pack, in order (add, override or disable rules).",
        )
        add("redirect_audit_report", str | None, None, "Append findings to this JSON Lines file.")
        add("redirect_audit_html", str | None, None, "Write the HTML report of the session to this file at exit.")
        add(
            "redirect_audit_follow_timeout",
            str,
            "30",
            "Seconds a redirect waits for the client's follow-up before it counts as not followed.",
        )
        add(
            "redirect_audit_max_pending",
            int,
            10_000,
            "Most redirects waiting for a follow-up at once; beyond it the oldest is evicted and counted.",
        )
        add(
            "redirect_audit_block_on",
            str | None,
            None,
            "Block live violations of this severity or higher (info, low, medium, high, critical).",
        )
        add(
            "redirect_audit_secret_fields",
            Sequence[str],
            list(DEFAULT_SECRET_FIELDS),
            "Names of credential fields in forms, JSON bodies and queries (case-insensitive).",
        )
        add(
            "redirect_audit_secret_headers",
            Sequence[str],
            list(DEFAULT_SECRET_HEADERS),
            "Custom secret headers, besides Authorization, Cookie and Proxy-Authorization.",
        )
        add(
            "redirect_audit_redirect_params",
            Sequence[str],
            list(DEFAULT_REDIRECT_PARAMS),
            "Request parameters an open redirect takes its target from (case-insensitive).",
        )
        add("redirect_audit_max_parse_bytes", int, DEFAULT_MAX_PARSE_BYTES,
            "Largest request body parsed for credential fields; larger ones count as unparsed.")  # fmt: skip

    def configure(self, updated: set[str]) -> None:
        if self.auditor is None:
            _refuse_unknown_options(ctx.options)
        if self.auditor is not None and not updated & _AUDITOR_OPTIONS:
            if "redirect_audit_report" in updated:
                self._open_report(ctx.options.redirect_audit_report)
            return
        try:
            settings = _auditor_settings(ctx.options, self.auditor.policy.key if self.auditor else None)
        except (ValueError, RulesError) as error:
            if self.auditor is None:  # start-up: the proxy never runs without its rules
                print(f"redirect-audit: {error}", file=sys.stderr, flush=True)
                raise SystemExit(2) from None
            raise exceptions.OptionsError(str(error)) from None
        if self.auditor is None:
            self.auditor = Auditor(**settings)
            self.session = Session(self.auditor, write_line=logger.warning)
        else:  # keep what is pending: only rules, limits and policy change
            self.auditor.rules = settings["rules"]
            self.auditor.block_on = settings["block_on"]
            self.auditor.pairing.follow_timeout = settings["follow_timeout"]
            self.auditor.pairing.max_pending = settings["max_pending"]
            self.auditor.pairing.policy = settings["policy"]
        if "redirect_audit_report" in updated:
            self._open_report(ctx.options.redirect_audit_report)

    def _open_report(self, path: str | None) -> None:
        try:
            self.session.open_report(path)
        except OSError as error:
            raise exceptions.OptionsError(f"redirect_audit_report: cannot open {path}: {error}") from None

    @command.command("redirectaudit.jsonl")
    def write_jsonl(self, path: mtypes.Path) -> None:
        """Write the findings of this session so far as JSON Lines."""
        self.session.write_jsonl(str(path))
        kept, total = len(self.session.findings), self.session.tally.total
        left = f" (the other {total - kept} were not kept in memory: see the report file)" if total > kept else ""
        logger.warning(f"redirect-audit: {kept} findings written to {path}{left}")

    @command.command("redirectaudit.html")
    def write_html(self, path: mtypes.Path) -> None:
        """Write the HTML report of this session so far."""
        self.session.write_html(str(path), sources=self._sources())
        logger.warning(f"redirect-audit: HTML report written to {path}")

    @staticmethod
    def _sources() -> list[str]:
        recording = getattr(ctx.options, "rfile", None)  # mitmdump -r / mitmweb -r
        return [recording] if recording else ["live session"]

    @command.command("redirectaudit.summary")
    def summary(self) -> str:
        """The findings of this session so far, by rule and severity."""
        return self.session.summary()

    def running(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        """Expire unfollowed redirects on the wall clock while live traffic flows (not when replaying:
        recorded timestamps are in the past, and the engine expires by them as flows arrive)."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if self._live_seen and self.auditor is not None:
                self._guarded(None, lambda: self.session.emit(self.auditor.expire(time.time())))

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # A body that streams past the proxy has left before `request` fires: judge such a follow-up on its
        # headers, while it can still be stopped.
        if flow.live:
            self._guarded(flow, lambda: self._on_request_headers(flow))

    def request(self, flow: http.HTTPFlow) -> None:
        if flow not in self._flows:  # else judged at its headers
            self._guarded(flow, lambda: self._on_request(flow, at_headers=False))

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        # Judged on its headers, before any of its body can reach the client: mitmproxy may start streaming a
        # large response as its body arrives, whatever an addon asked for.
        self._guarded(flow, lambda: self._on_response(flow, at_headers=True))

    def response(self, flow: http.HTTPFlow) -> None:
        state = self._flows.pop(flow, None)
        if state is None or not state.answered:  # a response its headers hook never showed us
            self._guarded(flow, lambda: self._on_response(flow, at_headers=False))
        elif state.page is not None and flow.response.raw_content != state.page:
            flow.response.content = state.page  # a body-less 3xx we replaced: mitmproxy emptied the page's body

    def error(self, flow: http.HTTPFlow) -> None:
        self._flows.pop(flow, None)
        if self.auditor is not None:
            self._guarded(flow, lambda: self.auditor.error(flow.id))

    def done(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self.auditor is None:
            return
        now = time.time() if self._live_seen else self._last_time
        self._guarded(None, lambda: self.session.emit(self.auditor.finish(now)))
        logger.warning(self.session.summary())
        if html_path := ctx.options.redirect_audit_html:
            self._guarded(None, lambda: self.session.write_html(html_path, sources=self._sources()))
        self.session.close()

    def _on_request_headers(self, flow: http.HTTPFlow) -> None:
        if _may_stream(flow.request):
            self._on_request(flow, at_headers=True)

    def _on_request(self, flow: http.HTTPFlow, at_headers: bool) -> None:
        if flow.live:
            self._live_seen = True
        request = request_of(flow)
        self._flows[flow] = _FlowState(request)
        self._last_time = max(self._last_time, request.time)
        # Stoppable: at its headers, by killing it; later, only if its body was buffered (not streamed) so far.
        live = flow.killable if at_headers else flow.live and flow.request.raw_content is not None
        findings = self.auditor.request(request, live=live)
        own = [f for f in findings if f.flow == flow.id]
        self._annotate(flow, own)
        blocked = [f for f in own if f.action == "blocked"]
        if blocked:
            flow.marked = BLOCKED_MARK
            if at_headers:
                flow.kill()  # its body is not read yet: no answer can be sent, the connection is closed
            else:
                flow.response = self._page(blocked)
        self.session.emit(findings)

    def _on_response(self, flow: http.HTTPFlow, at_headers: bool) -> None:
        state = self._flows.get(flow)
        if state is None:  # its request hooks came before this addon was loaded
            state = self._flows[flow] = _FlowState(request_of(flow))
        state.answered = True
        response = response_of(flow)
        self._last_time = max(self._last_time, response.time)
        # Replaceable: at its headers always (the page takes over the body's stream); later, if not streamed.
        live = flow.live and (at_headers or flow.response.raw_content is not None)
        findings = self.auditor.response(state.request, response, live=live)
        own = [f for f in findings if f.flow == flow.id]
        self._annotate(flow, own)
        blocked = [f for f in own if f.action == "blocked"]
        if blocked:
            flow.marked = BLOCKED_MARK
            flow.metadata[WITHHELD_KEY] = withheld_state(flow.response)
            page = self._page(blocked)
            # A streamed page: mitmproxy sends its headers now and its body from this stream, whatever the
            # upstream's body is; a body-less 3xx is not streamed, and `response` puts the page back.
            state.page = page.content
            page.stream = _Deliver(page.content)
            flow.response = page
        self.session.emit(findings)

    def _page(self, blocked: list[Finding]) -> http.Response:
        """What the client gets instead: a blocked follow-up never reaches the upstream, a blocked 3xx never
        reaches the client."""
        descriptions = {f.rule: self.auditor.rules.rules[f.rule].description for f in blocked}
        return http.Response.make(
            BLOCKED_STATUS,
            blocked_page(blocked, descriptions).encode(),
            {"Content-Type": "text/plain; charset=utf-8", "X-Redirect-Audit": blocked_header(blocked)},
        )

    @staticmethod
    def _annotate(flow: http.HTTPFlow, findings: list[Finding]) -> None:
        if not findings:
            return
        flow.marked = MARK
        note = "redirect-audit: " + ", ".join(f"{f.rule} ({f.severity})" for f in findings)
        flow.comment = f"{flow.comment}\n{note}" if flow.comment else note
        flow.metadata.setdefault(METADATA_KEY, []).extend(f.record() for f in findings)

    def _guarded(self, flow: http.HTTPFlow | None, work) -> None:
        try:
            work()
        except Exception:  # one bad flow must never stop the proxy's traffic
            url = redact_url(flow.request.pretty_url, self.auditor.policy) if flow and self.auditor else ""
            where = f" on flow {flow.id} ({flow.request.method} {url})" if flow else ""
            logger.warning(f"redirect-audit internal error{where}; traffic continues", exc_info=True)
