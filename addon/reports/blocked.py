"""What a client gets instead of a blocked redirect or follow-up: the rule, and why, in a header and a page."""

from __future__ import annotations

import textwrap

from ..auditor import Finding


def blocked_header(findings: list[Finding]) -> str:
    """`X-Redirect-Audit: blocked; rule=credentials-forwarded; severity=critical` (several rules: comma-joined)."""
    return ", ".join(f"blocked; rule={f.rule}; severity={f.severity}" for f in findings)


def blocked_page(findings: list[Finding], descriptions: dict[str, str]) -> str:
    first = findings[0]
    what = (
        f"the follow-up {first.followup_method} {first.followup_url}"
        if first.stage == "followup"
        else f"the {first.status} redirect from {first.redirect_url} to {first.location}"
    )
    lines = [f"redirect-audit blocked {what}", ""]
    for finding in findings:
        lines.append(f"- {finding.rule} ({finding.severity}): {finding.title}")
        lines.extend(textwrap.wrap(descriptions.get(finding.rule, ""), 96, initial_indent="    ",
                                   subsequent_indent="    "))  # fmt: skip
        lines.extend(f"    {reference}" for reference in finding.references)
    lines += ["", "Explain a rule: redirect-audit rules explain RULE-ID", ""]
    return "\n".join(lines)
