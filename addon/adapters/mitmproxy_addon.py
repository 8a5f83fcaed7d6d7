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
from dataclasses import dataclass

from mitmproxy import command, ctx, exceptions, http
from mitmproxy import types as mtypes

from .. import options
from ..auditor import Auditor, Finding
from ..engine.model import Request
from ..engine.secrets import redact_url
from ..options import OPTIONS, PREFIX
from ..reports import FORMATS
from ..reports.blocked import blocked_header, blocked_page
from ..reports.session import Session
from ..rules.yamlnodes import RulesError
from .flows import WITHHELD_KEY, request_of, response_of, withheld_state

logger = logging.getLogger("redirect_audit")

MARK = ":warning:"
BLOCKED_MARK = ":no_entry:"
BLOCKED_STATUS = 403
METADATA_KEY = "redirect_audit"
TICK_SECONDS = 1.0


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
    unknown = sorted(name for name in options.deferred if name.startswith(PREFIX))
    if not unknown:
        return
    known = [name for name in options.keys() if name.startswith(PREFIX)]  # noqa: SIM118 - no dict
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name}" + (f" (did you mean {close[0]}?)" if close else ""))
    print(f"redirect-audit: unknown option {', '.join(hints)}", file=sys.stderr, flush=True)
    raise SystemExit(2)


_AUDITOR_OPTIONS = frozenset(option.mitmproxy_name for option in OPTIONS.values())


def _sentence(text: str) -> str:
    """An option's help as mitmproxy shows it: a sentence."""
    return text[0].upper() + text[1:] + "."


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
        for option in OPTIONS.values():
            loader.add_option(option.mitmproxy_name, option.type, option.default, _sentence(option.help))
        for output in FORMATS.values():
            loader.add_option(PREFIX + output.name, str | None, None, _sentence(output.help))

    def configure(self, updated: set[str]) -> None:
        if self.auditor is None:
            _refuse_unknown_options(ctx.options)
        if self.auditor is None or updated & _AUDITOR_OPTIONS:
            self._configure_auditor()
        for name in FORMATS:
            if PREFIX + name in updated:
                self._output(name, getattr(ctx.options, PREFIX + name))

    def _configure_auditor(self) -> None:
        try:
            settings = options.settings(
                lambda name: getattr(ctx.options, PREFIX + name), self.auditor.policy.key if self.auditor else None
            )
        except (ValueError, RulesError) as error:
            if self.auditor is None:  # start-up: the proxy never runs without its rules
                print(f"redirect-audit: {error}", file=sys.stderr, flush=True)
                raise SystemExit(2) from None
            raise exceptions.OptionsError(str(error)) from None
        if self.auditor is None:
            self.auditor = Auditor(**settings)
            self.session = Session(self.auditor, write_line=logger.warning, sources=self._sources())
        else:  # keep what is pending: only rules, limits and policy change
            self.auditor.rules = settings["rules"]
            self.auditor.block_on = settings["block_on"]
            self.auditor.pairing.follow_timeout = settings["follow_timeout"]
            self.auditor.pairing.flows.timeout = settings["flow_timeout"]
            self.auditor.pairing.max_pending = settings["max_pending"]
            self.auditor.pairing.policy = settings["policy"]

    def _output(self, name: str, path: str | None) -> None:
        try:
            self.session.output(name, path)
        except OSError as error:
            raise exceptions.OptionsError(f"{PREFIX}{name}: cannot write {path}: {error.strerror}") from None

    def _snapshot(self, name: str, path: str) -> None:
        self.session.snapshot(name, path)
        if name == "report":  # what was not kept in memory is in the streamed report only
            kept, total = len(self.session.findings), self.session.tally.total
            left = f" (the other {total - kept} were not kept in memory: see the report file)" if total > kept else ""
            logger.warning(f"redirect-audit: {kept} findings written to {path}{left}")
        else:
            logger.warning(f"redirect-audit: {name} written to {path}")

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
        state = self._flows.get(flow)
        if state is None or not state.answered:  # a response its headers hook never showed us
            self._guarded(flow, lambda: self._on_response(flow, at_headers=False))
        state = self._flows.pop(flow, None)
        if state is None:
            return
        if state.page is not None:
            if flow.response.raw_content != state.page:
                flow.response.content = state.page  # a body-less 3xx we replaced: mitmproxy emptied the page's body
        else:  # whole now: a login's steps that need the body
            self._guarded(flow, lambda: self._on_completed(flow, state.request))

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
        self._guarded(None, self.session.close)

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

    def _on_completed(self, flow: http.HTTPFlow, request: Request) -> None:
        findings = self.auditor.completed(request, response_of(flow))
        self._annotate(flow, [f for f in findings if f.flow == flow.id])
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


def _snapshot_command(name: str, output_command: str, help_text: str):
    def write(self: RedirectAudit, path: mtypes.Path) -> None:
        self._snapshot(name, str(path))

    write.__doc__ = help_text
    write.__name__ = f"write_{output_command}"
    return command.command(f"redirectaudit.{output_command}")(write)


for _output in FORMATS.values():  # a command per output format: `redirectaudit.jsonl PATH`, `redirectaudit.html PATH`
    setattr(RedirectAudit, f"write_{_output.command}", _snapshot_command(_output.name, _output.command,
                                                                         _output.command_help))  # fmt: skip
