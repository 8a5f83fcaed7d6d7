"""Findings and the run's summary as text for people: one line per finding, a table at the end."""

from __future__ import annotations

from collections import Counter

from ..auditor import Finding
from ..engine.model import Severity
from ..engine.pairing import Stats


def finding_line(finding: Finding) -> str:
    followup = f"{finding.followup_method} {finding.followup_url}" if finding.followup_url else "(no follow-up)"
    blocked = " BLOCKED" if finding.action == "blocked" else ""
    return (
        f"[{finding.severity.upper()}]{blocked} {finding.rule}: {finding.status} {finding.original_method} "
        f"{finding.redirect_url} -> {followup}  (client {finding.client}, chain {finding.chain['id']}"
        f" hop {finding.chain['hop']})"
    )


class Tally:
    """Counts findings by rule and severity as they are written, for the summary table."""

    def __init__(self) -> None:
        self.by_rule: Counter[tuple[str, str]] = Counter()
        self.blocked = 0

    def write(self, finding: Finding) -> None:
        self.by_rule[(finding.rule, finding.severity)] += 1
        self.blocked += finding.action == "blocked"

    @property
    def total(self) -> int:
        return sum(self.by_rule.values())

    @property
    def by_severity(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (_, severity), count in self.by_rule.items():
            counts[severity] += count
        return counts

    def summary(self, stats: Stats) -> str:
        lines = [
            f"redirect-audit summary: {stats.redirects} redirects, {stats.followed} followed, "
            f"{stats.not_followed} not followed, {stats.evicted} evicted from the pending table, "
            f"{stats.unparsed_bodies} bodies not parsed for credentials (too large or malformed)"
            + (f", {stats.cut} waiting redirects kept with their long URLs cut" if stats.cut else ""),
        ]
        if not self.by_rule:
            lines.append("no findings")
            return "\n".join(lines)
        rows = sorted(self.by_rule.items(), key=lambda item: (-Severity(item[0][1]).rank, item[0][0]))
        width = max(len(rule) for (rule, _), _ in rows)
        lines.append(f"{'severity':<9} {'rule':<{width}} {'count':>5}")
        lines += [f"{severity:<9} {rule:<{width}} {count:>5}" for (rule, severity), count in rows]
        blocked = f", {self.blocked} blocked" if self.blocked else ""
        lines.append(f"{self.total} findings{blocked}")
        return "\n".join(lines)
