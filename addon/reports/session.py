"""Everything one run writes, fed by one auditor: console lines, the JSON Lines report, the summary,
and what the HTML report needs (the chains and their findings). The addon, `proxy` and `analyze` share it."""

from __future__ import annotations

from collections.abc import Callable

from ..auditor import Auditor, Finding, shown_url
from . import html
from .chains import ChainLog
from .console import Tally, finding_line
from .jsonl import JsonLinesReport

# Kept in memory for `redirectaudit.jsonl`, by count and by the bytes of their URLs; the JSON Lines file has them all.
MAX_KEPT_FINDINGS = 100_000
MAX_KEPT_BYTES = 16 * 1024 * 1024


class Session:
    def __init__(self, auditor: Auditor, write_line: Callable[[str], None]) -> None:
        self.auditor = auditor
        self.write_line = write_line
        self.tally = Tally()
        self.report: JsonLinesReport | None = None
        self.findings: list[Finding] = []
        self._kept_bytes = 0
        self.chains = ChainLog(redact=lambda url: shown_url(url, self.auditor.policy))
        auditor.observers.append(self.chains.observe)

    def open_report(self, path: str | None) -> None:
        """Append findings from now on to `path` (None: stop writing a report). Raises OSError."""
        if self.report is not None:
            self.report.close()
            self.report = None
        if path:
            self.report = JsonLinesReport(path)

    def emit(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.write_line(finding_line(finding))
            self.tally.write(finding)
            if self.report is not None:
                self.report.write(finding)
            size = len(finding.redirect_url) + len(finding.location or "") + len(finding.followup_url or "")
            if len(self.findings) < MAX_KEPT_FINDINGS and self._kept_bytes + size <= MAX_KEPT_BYTES:
                self.findings.append(finding)
                self._kept_bytes += size

    def summary(self) -> str:
        return self.tally.summary(self.auditor.stats)

    def html(self, sources: list[str]) -> str:
        return html.render(self.chains, self.tally, self.auditor.rules, self.auditor.stats, sources=sources)

    def write_html(self, path: str, sources: list[str]) -> None:
        html.write(path, self.html(sources))

    def write_jsonl(self, path: str) -> None:
        report = JsonLinesReport(path, append=False)
        try:
            for finding in self.findings:
                report.write(finding)
        finally:
            report.close()

    def close(self) -> None:
        self.open_report(None)
