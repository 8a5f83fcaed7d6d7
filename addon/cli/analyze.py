"""`redirect-audit analyze`: recordings through the same engine and rules as live traffic.

Each input is audited on its own (nothing pairs across files). A broken input is reported with where it
broke, the findings read before that point are kept, and the other inputs are still analysed.
Exit status: 2 for a usage or input error, else 1 when a finding reaches --fail-on, else 0.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from ..adapters.recordings import RecordingError, open_recording, size
from ..auditor import SEVERITY_ORDER, Auditor
from ..reports.session import Session

INPUT_ERROR = 2
FAILED = 1


def analyze(args: argparse.Namespace, rules) -> int:
    progress = tqdm(
        total=sum(size(path) for path in args.inputs),
        unit="B",
        unit_scale=True,
        desc="analysing",
        disable=not sys.stderr.isatty(),
        leave=False,
    )
    auditor = Auditor(rules, follow_timeout=args.follow_timeout, max_pending=args.max_pending)
    session = Session(auditor, write_line=(lambda line: None) if args.quiet else progress.write)
    if args.report:
        try:
            session.open_report(args.report)
        except OSError as error:
            print(f"redirect-audit analyze: cannot write {args.report}: {error}", file=sys.stderr)
            return INPUT_ERROR
    broken = 0
    for path in args.inputs:
        last_time, done = 0.0, 0
        try:
            recording = open_recording(path)
            for request, response in recording:
                last_time = max(last_time, request.time)
                session.emit(auditor.request(request))
                if response is None:
                    auditor.error(request.flow_id)
                else:
                    session.emit(auditor.response(request, response))
                done = _advance(progress, recording, done)
        except RecordingError as error:
            broken += 1
            progress.write(f"redirect-audit analyze: {error}", file=sys.stderr)
        session.emit(auditor.finish(last_time))  # end of this input: what is pending was not followed
        progress.update(size(path) - done)
    progress.close()
    print(session.summary())
    if args.html:
        session.write_html(args.html, sources=list(args.inputs))
        print(f"HTML report: {args.html}")
    session.close()
    if broken:
        return INPUT_ERROR
    threshold = SEVERITY_ORDER[args.fail_on] if args.fail_on else None
    if threshold is not None and any(SEVERITY_ORDER[severity] >= threshold for _, severity in session.tally.by_rule):
        return FAILED
    return 0


def _advance(progress: tqdm, recording, done: int) -> int:
    position = getattr(recording, "position", done)
    if position > done:
        progress.update(position - done)
    return max(done, position)
