"""The JSON Lines report: one finding per line, flushed per line, so a killed run leaves whole lines."""

from __future__ import annotations

import json
from typing import IO, TYPE_CHECKING

from ..auditor import Finding

if TYPE_CHECKING:
    from .session import Session


class JsonLinesReport:
    def __init__(self, path: str, append: bool = True) -> None:
        self._file: IO[str] = open(path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115 - see close()

    def write(self, finding: Finding) -> None:
        self._file.write(json.dumps(finding.record(), ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def snapshot(session: Session, path: str) -> None:
    """The findings of the session so far (those it kept in memory), in a new file."""
    report = JsonLinesReport(path, append=False)
    try:
        for finding in session.findings:
            report.write(finding)
    finally:
        report.close()
