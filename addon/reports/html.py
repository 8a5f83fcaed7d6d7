"""The HTML report: one self-contained file (inline CSS, no scripts, nothing fetched) a reviewer can hand on.

It shows the summary by severity and by rule, every redirect chain hop by hop (origins as boxes, arrows
labelled with status and methods, violating hops highlighted, findings beside), and what each rule means.
Everything in it comes from findings and the chain log, which are redacted already.

The time it says it was generated is now, or, when the environment variable SOURCE_DATE_EPOCH holds a whole number
of seconds since 1970 (the reproducible-builds convention, https://reproducible-builds.org/specs/source-date-epoch/),
that time: the same session then gives the same file, byte for byte. A value that is not such a number is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import jinja2

from .. import __version__
from ..engine.model import SEVERITIES, Severity, printable
from ..engine.pairing import Stats
from ..rules.pack import RuleSet
from .chains import MAX_HOPS, Chain, ChainLog
from .console import Tally
from .logins import LoginLog

if TYPE_CHECKING:
    from .session import Session

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("redirect_audit.reports", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _shown(value: object) -> str:
    """Evidence as people read it: lists comma-joined, JSON spellings for booleans and null."""
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "(none)"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


TEMPLATES.filters["shown"] = _shown


def _origin(url: str | None) -> str:
    if not url:
        return "(none)"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _path(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.netloc else ""


def _generated() -> str:
    """When the report says it was generated: SOURCE_DATE_EPOCH when set to a time (see the module), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    when = datetime.now(UTC)
    if epoch.isascii() and epoch.isdigit():
        with contextlib.suppress(OverflowError, OSError, ValueError):  # past the dates datetime can hold
            when = datetime.fromtimestamp(int(epoch), UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def render(
    chains: ChainLog,
    tally: Tally,
    rules: RuleSet,
    stats: Stats,
    *,
    sources: list[str],
    logins: LoginLog | None = None,
) -> str:
    """Counts come from the tally, which has every finding; the chains drawn are the ones the chain log kept."""
    fired = sorted(
        {rule for rule, _ in tally.by_rule if rule in rules.rules},
        key=lambda rule: (-rules.rules[rule].severity.rank, rule),
    )
    ordered: list[Chain] = sorted(
        chains.chains.values(), key=lambda c: -c.worst.rank if c.worst else 1
    )  # worst first, then in order seen
    template = TEMPLATES.get_template("report.html.j2")
    return template.render(
        title="redirect-audit report",
        version=__version__,
        generated=_generated(),
        sources=[printable(source) for source in sources],
        stats=stats,
        severities=list(reversed(SEVERITIES)),
        by_severity=tally.by_severity,
        by_rule=sorted(tally.by_rule.items(), key=lambda item: (-Severity(item[0][1]).rank, item[0][0])),
        total=tally.total,
        chains=ordered,
        seen=chains.seen,
        flagged=sum(1 for c in ordered if c.findings),
        left_out=chains.left_out,
        findings_left_out=chains.findings_left_out,
        max_chains=chains.max_chains,
        max_hops=MAX_HOPS,
        rules=[rules.rules[rule] for rule in fired],
        logins=sorted(
            (logins.logins.values() if logins else ()), key=lambda login: -login.worst.rank if login.worst else 1
        ),
        logins_left_out=logins.left_out if logins else 0,
        origin=_origin,
        path=_path,
    )


def page(session: Session) -> str:
    """The report of the session so far."""
    return render(
        session.chains, session.tally, session.auditor.rules, session.auditor.stats, sources=session.sources,
        logins=session.logins,
    )  # fmt: skip


def snapshot(session: Session, path: str) -> None:
    """Encoded before the file is opened: a report that cannot be written leaves the file as it was."""
    Path(path).write_bytes(page(session).encode("utf-8"))
