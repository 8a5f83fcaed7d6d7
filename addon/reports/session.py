"""Everything one run writes, fed by one auditor: console lines, the summary, and the output files of the formats
asked for (`reports.FORMATS`), with what they need (the chains and the findings kept in memory). The addon,
`proxy` and `analyze` share it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..auditor import Auditor, Finding, shown_url
from . import FORMATS
from .chains import ChainLog
from .console import Tally, finding_line
from .logins import LoginLog

# Kept in memory for the snapshots (`redirectaudit.jsonl`), by count and by the bytes of their URLs; a streamed
# JSON Lines file has them all.
MAX_KEPT_FINDINGS = 100_000
MAX_KEPT_BYTES = 16 * 1024 * 1024


class Session:
    def __init__(self, auditor: Auditor, write_line: Callable[[str], None], sources: list[str] | None = None) -> None:
        self.auditor = auditor
        self.write_line = write_line
        self.sources = sources or ["live session"]  # what was audited, as the HTML report names it
        self.tally = Tally()
        self.findings: list[Finding] = []
        self._kept_bytes = 0
        self._streams: dict[str, Any] = {}  # format name -> its open stream
        self._at_end: dict[str, str] = {}  # format name -> the path its snapshot goes to at the end
        self.chains = ChainLog(redact=lambda url: shown_url(url, self.auditor.policy))
        self.logins = LoginLog(redact=lambda url: shown_url(url, self.auditor.policy))
        auditor.observers += [self.chains.observe, self.logins.observe]

    def output(self, name: str, path: str | None) -> None:
        """Write format `name` to `path` from now on (None: not at all). Raises OSError."""
        if (stream := self._streams.pop(name, None)) is not None:
            stream.close()
        self._at_end.pop(name, None)
        if not path:
            return
        output = FORMATS[name]
        if output.stream is not None:
            self._streams[name] = output.stream(path, True)
        else:
            self._at_end[name] = path

    def emit(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.write_line(finding_line(finding))
            self.tally.write(finding)
            for stream in self._streams.values():
                stream.write(finding)
            size = len(finding.redirect_url) + len(finding.location or "") + len(finding.followup_url or "")
            if len(self.findings) < MAX_KEPT_FINDINGS and self._kept_bytes + size <= MAX_KEPT_BYTES:
                self.findings.append(finding)
                self._kept_bytes += size

    def summary(self) -> str:
        return self.tally.summary(self.auditor.stats)

    def snapshot(self, name: str, path: str) -> None:
        """The session so far in format `name`, written to `path`."""
        FORMATS[name].snapshot(self, path)

    def close(self) -> list[str]:
        """The end: streams closed, snapshots due written; the paths written."""
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
        written = []
        for name, path in self._at_end.items():
            self.snapshot(name, path)
            written.append(path)
        self._at_end.clear()
        return written
