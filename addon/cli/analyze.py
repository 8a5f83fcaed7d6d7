"""`redirect-audit analyze`: recordings through the same engine and rules as live traffic.

Each input is audited on its own (nothing pairs across files). A broken input is reported with where it
broke, the findings read before that point are kept, and the other inputs are still analysed. Ctrl-C stops
the reading; the summary and the reports cover what was read.
Exit status: 130 when interrupted, else 2 for a usage or input error, else 1 when a finding reaches --fail-on,
else 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from ..adapters.inputs import open_recording, size
from ..auditor import Auditor
from ..engine.model import Severity, printable
from ..errors import RecordingError
from ..reports import FORMATS
from ..reports.session import Session

INPUT_ERROR = 2
FAILED = 1
INTERRUPTED = 130


def analyze(args: argparse.Namespace, settings: dict) -> int:
    """`settings`: the Auditor's arguments, from the options."""
    progress = tqdm(
        total=sum(size(path) for path in args.inputs),
        unit="B",
        unit_scale=True,
        desc="analysing",
        disable=not sys.stderr.isatty(),
        leave=False,
    )
    auditor = Auditor(**settings)
    quiet = (lambda line: None) if args.quiet else progress.write
    session = Session(auditor, write_line=quiet, sources=list(args.inputs))
    for name in FORMATS:  # writable: checked before any work
        session.output(name, getattr(args, name))
    with _stop_on_interrupt() as stop:
        broken = _read_all(args.inputs, auditor, session, progress, stop)
    progress.close()
    print(session.summary())
    for path in session.close():
        print(f"written: {printable(path)}")
    if stop.requested:
        return INTERRUPTED
    if broken:
        return INPUT_ERROR
    if args.fail_on and any(Severity(severity) >= args.fail_on for _, severity in session.tally.by_rule):
        return FAILED
    return 0


def _read_all(inputs: list[str], auditor: Auditor, session: Session, progress: tqdm, stop: _StopRequest) -> int:
    """Every input through the auditor, until a stop is requested; the number of broken inputs."""
    broken = 0
    for path in inputs:
        done = 0
        try:
            recording = open_recording(path)
            for findings in auditor.audit(recording, stop=lambda: stop.requested):
                session.emit(findings)
                done = _advance(progress, recording, done)
        except RecordingError as error:
            broken += 1
            progress.write(f"redirect-audit analyze: {error}", file=sys.stderr)
        if stop.requested:
            progress.write(f"redirect-audit analyze: interrupted in {printable(path)}; the summary and reports "
                           "cover what was read", file=sys.stderr)  # fmt: skip
            break
        progress.update(size(path) - done)
    return broken


class _StopRequest:
    """Set by the first Ctrl-C: the reading stops after the exchange at hand, which is audited whole. A second
    Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


@contextmanager
def _stop_on_interrupt() -> Iterator[_StopRequest]:
    stop = _StopRequest()
    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _advance(progress: tqdm, recording, done: int) -> int:
    position = recording.position
    if position > done:
        progress.update(position - done)
    return max(done, position)
