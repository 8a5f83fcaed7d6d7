"""The JSON Lines report: one whole line per finding, flushed as it is written, in UTF-8; the stream appends to what
the file holds, a snapshot replaces it."""

from __future__ import annotations

import json

from redirect_audit.reports.jsonl import JsonLinesReport
from redirect_audit.reports.session import Session

from ..exchanges import req, resp
from .traffic import PASSWORD, TOKEN, auditor, findings, login_307, token_location, unfollowed


def test_each_finding_is_one_whole_line_flushed_as_it_is_written(tmp_path):
    path = tmp_path / "findings.jsonl"
    report = JsonLinesReport(str(path))
    written = findings(login_307() + token_location())
    try:
        for number, finding in enumerate(written, 1):
            report.write(finding)
            lines = path.read_text(encoding="utf-8").split("\n")  # before close: on disk already
            assert len(lines) == number + 1 and lines[-1] == ""
            assert json.loads(lines[-2]) == finding.record()
            assert lines[-2] == json.dumps(finding.record(), ensure_ascii=False, separators=(",", ":"))
    finally:
        report.close()
    text = path.read_text(encoding="utf-8")
    assert PASSWORD not in text and TOKEN not in text


def test_the_stream_appends_to_what_the_file_holds(tmp_path):
    path = tmp_path / "findings.jsonl"
    path.write_text('{"rule":"earlier-run"}\n', encoding="utf-8")
    (finding,) = findings(unfollowed())
    report = JsonLinesReport(str(path), append=True)
    report.write(finding)
    report.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == '{"rule":"earlier-run"}' and json.loads(lines[1])["rule"] == "not-followed"
    assert len(lines) == 2


def test_a_snapshot_replaces_what_the_file_held(tmp_path):
    path = tmp_path / "snapshot.jsonl"
    path.write_text("x" * 10_000 + "\n", encoding="utf-8")
    session = Session(auditor(), write_line=lambda line: None)
    for batch in session.auditor.audit(login_307()):
        session.emit(batch)
    session.snapshot("report", str(path))
    rules = [json.loads(line)["rule"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert rules == ["credential-post-307", "credentials-forwarded"]


def test_text_is_utf8_and_bytes_that_were_not_utf8_are_escaped(tmp_path):
    path = tmp_path / "findings.jsonl"
    url = "https://shop.example/caf\u00e9/\udcff"  # é, then a byte 0xFF that was not UTF-8 on the wire
    (finding,) = findings([(req("GET", url, flow_id="odd", time=1.0), resp(302, "/next", time=1.5))])
    report = JsonLinesReport(str(path), append=False)
    report.write(finding)
    report.close()
    data = path.read_bytes()
    assert b'"redirect_url":"https://shop.example/caf\xc3\xa9/%FF"' in data  # raw UTF-8, not \\u00e9
    assert json.loads(data.decode("utf-8"))["redirect_url"] == "https://shop.example/café/%FF"
