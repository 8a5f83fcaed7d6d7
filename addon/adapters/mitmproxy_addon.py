"""The mitmproxy addon: live traffic and recordings (`mitmdump -r`) through the auditor.

Findings are logged at WARNING (ERROR would make `mitmdump -r` exit 1), written to the report, and
put on the flow they concern: `marked`, a `comment` naming the rules, `metadata["redirect_audit"]`.
Follow-up findings annotate the follow-up flow; findings judged on the 3xx alone annotate the 3xx.
An exception for one flow is logged and swallowed: the proxy's traffic never depends on the auditor.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Sequence

from mitmproxy import ctx, exceptions, http

from ..auditor import Auditor, Finding
from ..reports.console import Tally, finding_line
from ..reports.jsonl import JsonLinesReport
from ..rules.pack import RuleSet
from ..rules.yamlnodes import RulesError
from .flows import request_of, response_of

logger = logging.getLogger("redirect_audit")

MARK = ":warning:"
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


class RedirectAudit:
    def __init__(self) -> None:
        self.auditor: Auditor | None = None
        self.tally = Tally()
        self.report: JsonLinesReport | None = None
        self._live_seen = False
        self._last_time = 0.0
        self._ticker: asyncio.Task | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "redirect_audit_rules",
            Sequence[str],
            [],
            "Rule files applied after the default pack, in order (add, override or disable rules).",
        )
        loader.add_option("redirect_audit_report", str | None, None, "Append findings to this JSON Lines file.")
        loader.add_option(
            "redirect_audit_follow_timeout",
            str,
            "30",
            "Seconds a redirect waits for the client's follow-up before it counts as not followed.",
        )
        loader.add_option(
            "redirect_audit_max_pending",
            int,
            10_000,
            "Most redirects waiting for a follow-up at once; beyond it the oldest is evicted and counted.",
        )

    def configure(self, updated: set[str]) -> None:
        options = ctx.options
        if self.auditor is None or updated & {
            "redirect_audit_rules",
            "redirect_audit_follow_timeout",
            "redirect_audit_max_pending",
        }:
            try:
                timeout = parse_timeout(options.redirect_audit_follow_timeout)
                if options.redirect_audit_max_pending < 1:
                    raise ValueError("redirect_audit_max_pending: must be at least 1")
                rules = RuleSet.load(list(options.redirect_audit_rules))
            except (ValueError, RulesError) as error:
                if self.auditor is None:  # start-up: the proxy never runs without its rules
                    print(f"redirect-audit: {error}", file=sys.stderr, flush=True)
                    raise SystemExit(2) from None
                raise exceptions.OptionsError(str(error)) from None
            if self.auditor is None:
                self.auditor = Auditor(rules, follow_timeout=timeout, max_pending=options.redirect_audit_max_pending)
            else:  # keep what is pending: only the rules and limits change
                self.auditor.rules = rules
                self.auditor.pairing.follow_timeout = timeout
                self.auditor.pairing.max_pending = options.redirect_audit_max_pending
        if "redirect_audit_report" in updated:
            self._open_report(options.redirect_audit_report)

    def _open_report(self, path: str | None) -> None:
        if self.report is not None:
            self.report.close()
            self.report = None
        if path:
            try:
                self.report = JsonLinesReport(path)
            except OSError as error:
                raise exceptions.OptionsError(f"redirect_audit_report: cannot open {path}: {error}") from None

    def running(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        """Expire unfollowed redirects on the wall clock while live traffic flows (not when replaying:
        recorded timestamps are in the past, and the engine expires by them as flows arrive)."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if self._live_seen and self.auditor is not None:
                self._guarded(None, lambda: self._emit(self.auditor.expire(time.time())))

    def request(self, flow: http.HTTPFlow) -> None:
        self._guarded(flow, lambda: self._on_request(flow))

    def response(self, flow: http.HTTPFlow) -> None:
        self._guarded(flow, lambda: self._on_response(flow))

    def error(self, flow: http.HTTPFlow) -> None:
        if self.auditor is not None:
            self._guarded(flow, lambda: self.auditor.error(flow.id))

    def done(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self.auditor is not None:
            now = time.time() if self._live_seen else self._last_time
            self._guarded(None, lambda: self._emit(self.auditor.finish(now)))
            logger.warning(self.tally.summary(self.auditor.stats))
        if self.report is not None:
            self.report.close()
            self.report = None

    def _on_request(self, flow: http.HTTPFlow) -> None:
        if flow.live:
            self._live_seen = True
        request = request_of(flow)
        self._last_time = max(self._last_time, request.time)
        findings = self.auditor.request(request)
        self._annotate(flow, [f for f in findings if f.flows["followup"] == flow.id])
        self._emit(findings)

    def _on_response(self, flow: http.HTTPFlow) -> None:
        response = response_of(flow)
        self._last_time = max(self._last_time, response.time)
        findings = self.auditor.response(request_of(flow), response)
        self._annotate(flow, [f for f in findings if f.stage == "response" and f.flows["redirect"] == flow.id])
        self._emit(findings)

    @staticmethod
    def _annotate(flow: http.HTTPFlow, findings: list[Finding]) -> None:
        if not findings:
            return
        flow.marked = MARK
        note = "redirect-audit: " + ", ".join(f"{f.rule} ({f.severity})" for f in findings)
        flow.comment = f"{flow.comment}\n{note}" if flow.comment else note
        flow.metadata.setdefault(METADATA_KEY, []).extend(f.record() for f in findings)

    def _emit(self, findings: list[Finding]) -> None:
        for finding in findings:
            logger.warning(finding_line(finding))
            self.tally.write(finding)
            if self.report is not None:
                self.report.write(finding)

    @staticmethod
    def _guarded(flow: http.HTTPFlow | None, work) -> None:
        try:
            work()
        except Exception:  # one bad flow must never stop the proxy's traffic
            where = f" on flow {flow.id} ({flow.request.method} {flow.request.pretty_url})" if flow else ""
            logger.warning(f"redirect-audit internal error{where}; traffic continues", exc_info=True)
