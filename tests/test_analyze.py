"""Recordings: HAR files as real exports vary, flow files from real proxy runs, and `redirect-audit analyze`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy.test import taddons

from redirect_audit.adapters.har import HarReader
from redirect_audit.adapters.mitmproxy_addon import RedirectAudit
from redirect_audit.auditor import Auditor
from redirect_audit.errors import RecordingError
from redirect_audit.rules.pack import RuleSet

from .harness.clients import send
from .harness.process import BIN, ProxyProcess, addon_script

DATA = Path(__file__).parent / "data"
HAR = DATA / "har"
RULES = RuleSet.load()


def audit(path: Path) -> tuple[list, RecordingError | None]:
    findings, error = [], None
    try:
        for batch in Auditor(RULES).audit(HarReader(str(path))):
            findings += batch
    except RecordingError as broken:
        error = broken
    return findings, error


def rules(findings) -> set[str]:
    return {f.rule for f in findings}


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "redirect-audit"), "analyze", *args], capture_output=True, text=True, timeout=120)


def test_chromium_export_with_http2_pseudo_headers():
    records = list(HarReader(str(HAR / "chromium-login-307.har")))
    assert [(r.method, resp.status) for r, resp in records] == [("GET", 200), ("POST", 307), ("POST", 200)]
    login = records[1][0]
    assert not any(name.startswith(":") for name, _ in login.headers)
    assert ("host", "idp.example.com") in login.headers  # from :authority
    assert login.body.read() == b"username=alice&password=hunter2"
    assert records[0][0].client == records[2][0].client == "recording"
    findings, error = audit(HAR / "chromium-login-307.har")
    assert error is None
    assert {"credential-post-307", "credentials-forwarded"} <= rules(findings)


def test_firefox_export_with_params_but_no_text():
    (_, _), (login, response), (followup, _) = HarReader(str(HAR / "firefox-params-only.har"))
    assert login.body.read() == b"username=alice&password=hunter2"  # rebuilt from postData.params
    assert response.locations == ["https://app.example.net/callback"]
    findings, _ = audit(HAR / "firefox-params-only.har")
    assert {"credential-post-307", "credentials-forwarded"} <= rules(findings)


def test_base64_bodies_are_compared_decoded():
    findings, _ = audit(HAR / "playwright-base64.har")
    by_rule = {f.rule: f for f in findings}
    assert "body-altered" not in by_rule  # the webhook re-posted unchanged to svc-2: clean
    assert by_rule["method-changed"].redirect_url == "https://gateway.example.com/hooks/v1"
    assert by_rule["body-dropped"].followup_url == "https://gateway.example.com/hooks/v2"


def test_missing_optional_fields_and_bad_entries():
    reader = HarReader(str(HAR / "minimal-fields.har"))
    records = list(reader)
    assert reader.skipped == 2  # a string, and a request without url
    assert [r.url for r, _ in records][:2] == ["https://shop.example.com/promo", "https://shop.example.com/landing"]
    assert records[-1][1] is None  # status 0: no response
    findings, _ = audit(HAR / "minimal-fields.har")
    assert rules(findings) == {"head-became-get"}


def test_location_given_only_as_redirect_url():
    findings, _ = audit(HAR / "redirecturl-only.har")
    assert rules(findings) == {"body-dropped"}  # the PUT's body did not survive the 301


def test_empty_entries():
    assert list(HarReader(str(HAR / "empty.har"))) == []


def test_truncated_har_keeps_what_was_read():
    findings, error = audit(HAR / "truncated.har")
    assert error is not None
    assert str(error).startswith(f"{HAR / 'truncated.har'}: entry 3 (byte ")
    assert "credential-post-307" in rules(findings)  # judged on the 307 before the cut


def test_not_json_is_refused_at_once():
    with pytest.raises(RecordingError, match="not JSON"):
        list(HarReader(str(HAR / "not-json.har")))


FULL = (HAR / "chromium-login-307.har").read_bytes()
FULL_URLS = [r.url for r, _ in HarReader(str(HAR / "chromium-login-307.har"))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=len(FULL)))
def test_cut_anywhere_gives_a_prefix_or_a_clean_error(tmp_path, cut):
    path = tmp_path / "cut.har"
    path.write_bytes(FULL[:cut])
    urls = []
    try:
        for request, _ in HarReader(str(path)):
            urls.append(request.url)
    except RecordingError:
        pass
    assert urls == FULL_URLS[: len(urls)]


@pytest.fixture(scope="module")
def recorded(upstream, tmp_path_factory):
    """A session through the real proxy, saved with --save: its live findings and the flow file."""
    workdir = tmp_path_factory.mktemp("recorded")
    saved = workdir / "session.mitm"
    proxy = ProxyProcess.cli(workdir, "--save", str(saved))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        send("requests", "POST", upstream.go(307, upstream.url("/cb", 1)), proxy=proxy.url, headers=form,
             body=b"username=a&password=pw-Recorded-77")  # fmt: skip
        send("urllib", "GET", upstream.go(302, upstream.url("/x", 1)), proxy=proxy.url,
             headers={"Authorization": "Bearer t", "Cookie": "a=b"})  # fmt: skip
        send("curl", "PUT", upstream.url("/redirect?status=301&to=/e"), proxy=proxy.url, body=b"{}",
             headers={"Content-Type": "application/json"})  # fmt: skip
        send("naive-get", "HEAD", upstream.url("/redirect?status=302&to=/h"), proxy=proxy.url)
        send("requests", "GET", upstream.url("/chain/3"), proxy=proxy.url)
        send("requests", "GET", upstream.url("/redirect?status=302&to=/nowhere"), proxy=proxy.url, follow=False)
    finally:
        proxy.stop(signal.SIGINT)
    live = {(f["rule"], f["redirect_url"], f["followup_url"]) for f in proxy.findings()}
    return saved, live


def test_analyze_gives_the_live_results(recorded, tmp_path):
    saved, live = recorded
    report = tmp_path / "analyzed.jsonl"
    done = analyze(str(saved), "--report", str(report))
    assert done.returncode == 0, done.stderr
    analyzed = {(f["rule"], f["redirect_url"], f["followup_url"]) for f in map(json.loads, report.open())}
    assert analyzed == live
    assert {"credentials-forwarded", "authorization-cross-origin", "body-dropped", "head-became-get",
            "not-followed"} <= {rule for rule, _, _ in live}  # fmt: skip
    assert "redirect-audit summary:" in done.stdout
    assert "\r" not in done.stderr  # no progress bar when the output is not a terminal


def test_stock_mitmdump_gives_the_same_findings(recorded, tmp_path):
    saved, live = recorded
    report = tmp_path / "mitmdump.jsonl"
    done = subprocess.run(
        [str(BIN / "mitmdump"), "-n", "-r", str(saved), "-s", addon_script(),
         "--set", f"redirect_audit_report={report}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert {(f["rule"], f["redirect_url"], f["followup_url"]) for f in map(json.loads, report.open())} == live


def test_fail_on_gates_ci(recorded):
    saved, _ = recorded
    assert analyze(str(saved), "-q", "--fail-on", "critical").returncode == 1
    assert analyze(str(HAR / "minimal-fields.har"), "-q", "--fail-on", "medium").returncode == 0  # only low
    assert analyze(str(HAR / "minimal-fields.har"), "-q", "--fail-on", "low").returncode == 1


def test_truncated_flow_file_reports_where_and_keeps_findings(recorded, tmp_path):
    saved, live = recorded
    data = saved.read_bytes()
    cut = tmp_path / "cut.mitm"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    report = tmp_path / "cut.jsonl"
    done = analyze(str(cut), str(HAR / "redirecturl-only.har"), "--report", str(report), "-q")
    assert done.returncode == 2
    assert f"{cut}: flow " in done.stderr and "corrupt or truncated flow file (the file ends inside" in done.stderr
    found = [json.loads(line) for line in report.open()]
    assert 0 < len([f for f in found if "/go/" in f["redirect_url"] or "127.0.0" in f["redirect_url"]]) < len(live)
    assert any(f["rule"] == "body-dropped" and "api.example.com" in f["redirect_url"] for f in found)  # next input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent.mitm"], "No such file"),
        ([str(HAR / "not-json.har")], "not JSON"),
        (
            [str(DATA / "not-a-flow.mitm")],
            "not-a-flow.mitm: flow 1 (byte 0): corrupt or truncated flow file (not a saved flow)",
        ),
        ([str(HAR / "empty.har"), "--fail-on", "severe"], "invalid choice"),
    ],
)
def test_input_and_usage_errors_exit_2(args, message):
    done = analyze(*args)
    assert done.returncode == 2 and message in done.stderr


def test_html_report_from_a_recording(recorded, tmp_path):
    saved, _ = recorded
    html = tmp_path / "report.html"
    assert analyze(str(saved), "--html", str(html), "-q").returncode == 0
    page = html.read_text()
    assert "<script" not in page and "<link" not in page and "@import" not in page  # self-contained
    assert page.count('class="chain flagged"') >= 4
    assert 'data-violation="credential-post-307 credentials-forwarded"' in page
    assert "RFC 9700 §4.12 (307 Redirect)" in page
    assert "pw-Recorded-77" not in page


def test_commands_inside_mitmproxy(tmp_path):
    audit = RedirectAudit()
    with taddons.context(audit) as tctx:
        tctx.configure(audit)
        for name in ("redirectaudit.jsonl", "redirectaudit.html", "redirectaudit.summary"):
            assert name in tctx.master.commands.commands
        assert "redirect-audit summary: 0 redirects" in tctx.master.commands.call("redirectaudit.summary")
        tctx.master.commands.call("redirectaudit.html", str(tmp_path / "r.html"))
        tctx.master.commands.call("redirectaudit.jsonl", str(tmp_path / "r.jsonl"))
    assert "No findings" in (tmp_path / "r.html").read_text()
    assert (tmp_path / "r.jsonl").read_text() == ""


def test_progress_bar_on_a_terminal(recorded):
    """On a terminal (a pseudo-terminal here), analyze shows a progress bar on stderr."""
    saved, _ = recorded
    script = shutil.which("script")
    if script is None:
        pytest.fail("util-linux's `script` is needed to give analyze a terminal")
    command = f"stty cols 100 rows 30; {BIN / 'redirect-audit'} analyze -q {saved} 2>&1 >/dev/null"
    done = subprocess.run([script, "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=60)
    assert "analysing" in done.stdout
