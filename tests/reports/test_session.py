"""A Session: every finding to the console line, the tally and the open streams as it comes; the outputs opened by
format name (a stream at once, a snapshot at `close`); the findings kept for snapshots within their budgets."""

from __future__ import annotations

import json

import pytest

from redirect_audit.auditor import Finding
from redirect_audit.reports import session as session_module
from redirect_audit.reports.console import finding_line
from redirect_audit.reports.session import Session

from .traffic import auditor, findings, login_307, token_location, unfollowed


def run(session: Session, exchanges) -> None:
    for batch in session.auditor.audit(exchanges):
        session.emit(batch)


def rules(path) -> list[str]:
    return [json.loads(line)["rule"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_finding_goes_to_the_console_the_tally_and_the_chains():
    lines: list[str] = []
    session = Session(auditor(), write_line=lines.append)
    run(session, login_307() + unfollowed())
    assert lines == [finding_line(finding) for finding in session.findings]
    kept = [finding.rule for finding in session.findings]
    assert kept == ["credential-post-307", "credentials-forwarded", "not-followed"]
    assert session.tally.total == 3 and set(session.chains.chains) == {"login", "promo"}
    assert session.summary() == session.tally.summary(session.auditor.stats)
    assert session.sources == ["live session"]


def test_outputs_are_opened_by_format_name_a_stream_at_once_a_snapshot_at_close(tmp_path):
    report, page = tmp_path / "findings.jsonl", tmp_path / "report.html"
    report.write_text('{"rule":"earlier"}\n', encoding="utf-8")
    session = Session(auditor(), write_line=lambda line: None, sources=["a.har"])
    session.output("report", str(report))
    session.output("html", str(page))
    run(session, login_307())
    assert rules(report) == ["earlier", "credential-post-307", "credentials-forwarded"]  # appended, as they came
    assert not page.exists()  # a snapshot: at the end
    assert session.close() == [str(page)]
    assert "a.har · generated" in page.read_text(encoding="utf-8")
    assert session.close() == []  # nothing is written twice


def test_an_output_opened_again_or_to_none_stops_the_earlier_one(tmp_path):
    first, second, page = tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "report.html"
    session = Session(auditor(), write_line=lambda line: None)
    session.output("report", str(first))
    session.output("html", str(page))
    run(session, unfollowed("u1", 10.0))
    session.output("report", str(second))
    session.output("html", None)
    run(session, unfollowed("u2", 20.0))
    session.output("report", None)
    run(session, unfollowed("u3", 30.0))
    assert session.close() == []
    assert (rules(first), rules(second), page.exists()) == (["not-followed"], ["not-followed"], False)


def test_an_unknown_output_and_an_unwritable_path_raise(tmp_path):
    session = Session(auditor(), write_line=lambda line: None)
    with pytest.raises(KeyError):
        session.output("no-such-format", str(tmp_path / "x"))
    with pytest.raises(OSError):
        session.output("report", str(tmp_path / "no-such-folder" / "findings.jsonl"))


def test_a_snapshot_holds_the_session_so_far(tmp_path):
    session = Session(auditor(), write_line=lambda line: None)
    run(session, login_307())
    session.snapshot("report", str(tmp_path / "now.jsonl"))
    session.snapshot("html", str(tmp_path / "now.html"))
    assert rules(tmp_path / "now.jsonl") == ["credential-post-307", "credentials-forwarded"]
    assert "2 findings in 1 chain</title>" in (tmp_path / "now.html").read_text(encoding="utf-8")


def url_bytes(finding: Finding) -> int:
    return len(finding.redirect_url) + len(finding.location or "") + len(finding.followup_url or "")


def test_the_findings_kept_for_snapshots_stay_within_their_byte_budget(monkeypatch, tmp_path):
    exchanges = [exchange for n in range(4) for exchange in token_location(f"t{n}", 10.0 * n, path="p" * 3000)]
    sizes = [url_bytes(finding) for finding in findings(exchanges)]  # the same findings, about 3,100 bytes each
    budget = sum(sizes[:3]) - 1
    monkeypatch.setattr(session_module, "MAX_KEPT_BYTES", budget)
    stream = tmp_path / "all.jsonl"
    session = Session(auditor(), write_line=lambda line: None)
    session.output("report", str(stream))
    run(session, exchanges)
    session.close()
    assert len(session.findings) == 2 < session.tally.total == 4  # kept while within the budget; all counted
    assert sum(url_bytes(finding) for finding in session.findings) <= budget
    assert len(rules(stream)) == 4  # the stream has them all


def test_the_findings_kept_for_snapshots_stay_within_their_count(monkeypatch):
    monkeypatch.setattr(session_module, "MAX_KEPT_FINDINGS", 1)
    session = Session(auditor(), write_line=lambda line: None)
    run(session, token_location() + unfollowed())
    assert [finding.rule for finding in session.findings] == ["token-in-location"]
    assert session.tally.total == 2
