"""Errors more than one layer raises or reports: kept apart so that none has to import another's module for them."""

from __future__ import annotations


class RecordingError(Exception):
    """A recording is unreadable from some point on. The message names the file and where it broke, and says
    that the findings before that point are kept when records were read before it (`records_before`, which
    the reader sets when it knows)."""

    def __init__(self, path: str, where: str, message: str, records_before: int = 0) -> None:
        super().__init__(path, where, message)
        self.path, self.where, self.message, self.records_before = path, where, message, records_before

    def __str__(self) -> str:
        kept = " (findings before that point are kept)" if self.records_before else ""
        return f"{self.path}: {self.where}: {self.message}{kept}"
