"""Reports: what a session writes besides its console lines and summary (`console`), and the page a blocked client
gets (`blocked`).

An output format is one module and one entry in FORMATS. The module gives `snapshot(session, path)`, which writes
the whole session so far to a file, and, for a format that must survive a killed run, a stream class: opened on a
path (`append` or not), told of each finding as it comes (`write`), closed at the end. From the entry come the
addon's option `redirect_audit_<name>` and command `redirectaudit.<command> PATH`, the flag `--<name>` of the CLI
commands it lists, and the reference's tables: nothing else is to be wired by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..options import BOTH
from . import html, jsonl

if TYPE_CHECKING:
    from .session import Session


@dataclass(frozen=True)
class Format:
    name: str  # the option redirect_audit_<name> and the flag --<name>
    command: str  # the mitmproxy command redirectaudit.<command> PATH writes the session so far
    metavar: str
    help: str  # what the option and the flag do
    command_help: str
    snapshot: Callable[[Session, str], None]
    stream: Callable[[str, bool], Any] | None = None  # (path, append): write(finding) as they come, close()
    commands: frozenset[str] = BOTH


FORMATS: dict[str, Format] = {
    output.name: output
    for output in (
        Format(
            "report", "jsonl", "FILE.jsonl", "append findings to this JSON Lines file, flushed per line",
            "Write the findings of this session so far as JSON Lines.", jsonl.snapshot, stream=jsonl.JsonLinesReport,
        ),
        Format(
            "html", "html", "FILE.html", "write the HTML report of the session to this file at the end",
            "Write the HTML report of this session so far.", html.snapshot,
        ),
    )
}  # fmt: skip
