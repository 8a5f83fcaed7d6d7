"""The mitmproxy addon, driven by mitmproxy's own test helpers (taddons, tflow)."""

import json
import logging

import pytest
from mitmproxy import exceptions, http, io
from mitmproxy.test import taddons, tflow

from redirect_audit.adapters.mitmproxy_addon import METADATA_KEY, RedirectAudit
from redirect_audit.auditor import Auditor


def flow(method, url, *, content=b"", status=None, location=None, peer="10.0.0.7", t=1000.0, live=False):
    request = http.Request.make(method, url, content)
    request.timestamp_start = request.timestamp_end = t
    response = False
    if status is not None:
        headers = {"location": location} if location is not None else {}
        response = http.Response.make(status, b"", headers)
        response.timestamp_start = response.timestamp_end = t + 0.01
    f = tflow.tflow(req=request, resp=response, live=live)
    f.client_conn.peername = (peer, 50000)
    return f


async def through(tctx, addon, *flows):
    for f in flows:
        await tctx.cycle(addon, f)


@pytest.fixture
def addon(tmp_path):
    audit = RedirectAudit()
    with taddons.context(audit) as tctx:
        tctx.configure(audit, redirect_audit_report=str(tmp_path / "report.jsonl"))
        yield tctx, audit


def report_lines(tmp_path):
    return [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]


async def test_recorded_followup_is_annotated_and_reported(addon, tmp_path):
    tctx, audit = addon
    original = flow("POST", "http://api.example/hook", content=b'{"a":1}', status=307, location="/v2/hook")
    followup = flow("GET", "http://api.example/v2/hook", status=200, t=1001)
    await through(tctx, audit, original, followup)
    assert not original.marked
    assert followup.marked
    assert "method-changed (high)" in followup.comment
    rules = {f["rule"] for f in followup.metadata[METADATA_KEY]}
    assert {"method-changed", "body-dropped"} <= rules
    records = report_lines(tmp_path)
    assert {r["rule"] for r in records} == rules
    record = next(r for r in records if r["rule"] == "method-changed")
    assert record["flows"] == {"redirect": original.id, "followup": followup.id}
    assert record["client"] == "10.0.0.7"
    assert record["action"] == "logged"


async def test_response_findings_annotate_the_redirect(addon):
    tctx, audit = addon
    no_location = flow("GET", "http://a.example/", status=302)
    await through(tctx, audit, no_location)
    assert no_location.marked
    assert no_location.metadata[METADATA_KEY][0]["rule"] == "location-missing"


async def test_clients_are_kept_apart(addon, tmp_path):
    tctx, audit = addon
    await through(
        tctx,
        audit,
        flow("POST", "http://a.example/x", content=b"body", status=307, location="/y", peer="10.0.0.1"),
        flow("GET", "http://a.example/y", status=200, peer="10.0.0.2", t=1001),  # another client
        flow("POST", "http://a.example/y", content=b"body", status=200, peer="10.0.0.1", t=1002),
    )
    assert report_lines(tmp_path) == []
    assert audit.auditor.stats.followed == 1


async def test_done_reports_unfollowed_and_logs_summary(addon, tmp_path, caplog):
    tctx, audit = addon
    caplog.set_level(logging.WARNING)
    await through(tctx, audit, flow("GET", "http://a.example/", status=302, location="/away"))
    audit.done()
    assert [r["rule"] for r in report_lines(tmp_path)] == ["not-followed"]
    assert "redirect-audit summary: 1 redirects, 0 followed, 1 not followed" in caplog.text


def test_invalid_options_at_startup_stop_mitmproxy(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: a\n    title: t\n    severity: loud\n    description: d\n    when: {}\n")
    audit = RedirectAudit()
    with taddons.context(audit) as tctx, pytest.raises(SystemExit) as stopped:
        tctx.configure(audit, redirect_audit_rules=[str(bad)])
    assert stopped.value.code == 2
    assert f"{bad}:4: rule 'a': severity must be one of" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("redirect_audit_follow_timeout", "soon", "not a number"),
        ("redirect_audit_follow_timeout", "-1", "must be positive"),
        ("redirect_audit_max_pending", 0, "at least 1"),
        ("redirect_audit_rules", ["/nonexistent/rules.yaml"], "cannot read rule file"),
    ],
)
def test_invalid_options_while_running_are_refused(addon, option, value, message):
    tctx, audit = addon
    with pytest.raises(exceptions.OptionsError, match=message):
        tctx.configure(audit, **{option: value})
    assert audit.auditor is not None  # the rules in force stay in force


async def test_follow_timeout_option_applies(addon, tmp_path):
    tctx, audit = addon
    tctx.configure(audit, redirect_audit_follow_timeout="0.5")
    await through(
        tctx,
        audit,
        flow("GET", "http://a.example/", status=302, location="/later", t=1000),
        flow("GET", "http://a.example/later", status=200, t=1002),  # too late to pair
    )
    assert [r["rule"] for r in report_lines(tmp_path)] == ["not-followed"]


class BrokenAuditor(Auditor):
    def request(self, request, live=False):
        raise RuntimeError("boom")


async def test_an_exception_for_one_flow_never_stops_traffic(addon, caplog):
    tctx, audit = addon
    audit.auditor = BrokenAuditor(audit.auditor.rules)
    caplog.set_level(logging.WARNING)
    f = flow("GET", "http://a.example/x", status=200, live=True)
    await through(tctx, audit, f)
    assert "redirect-audit internal error on flow" in caplog.text
    assert "RuntimeError: boom" in caplog.text
    assert f.error is None and f.response.status_code == 200


async def test_live_followup_violation_is_blocked_before_the_upstream(addon, tmp_path):
    tctx, audit = addon
    tctx.configure(audit, redirect_audit_block_on="high")
    original = flow("POST", "http://api.example/hook", content=b'{"a":1}', status=307, location="/v2", live=True)
    await through(tctx, audit, original)
    followup = flow("GET", "http://api.example/v2", live=True)  # no response yet: still on its way upstream
    await tctx.cycle(audit, followup)
    assert followup.response.status_code == 403
    assert "rule=method-changed; severity=high" in followup.response.headers["X-Redirect-Audit"]
    assert followup.marked == ":no_entry:"
    assert {r["rule"]: r["action"] for r in report_lines(tmp_path)}["method-changed"] == "blocked"


async def test_live_redirect_violation_replaces_the_3xx(addon):
    tctx, audit = addon
    tctx.configure(audit, redirect_audit_block_on="medium")
    bad = flow("GET", "http://a.example/", status=302, location="javascript:alert(1)", live=True)
    await through(tctx, audit, bad)
    assert bad.response.status_code == 403
    assert "location" not in bad.response.headers
    assert audit.auditor.pairing.pending == 0  # nothing waits for a follow-up that cannot come


async def test_recorded_flows_are_never_blocked(addon, tmp_path):
    tctx, audit = addon
    tctx.configure(audit, redirect_audit_block_on="info")
    bad = flow("GET", "http://a.example/", status=302, location="javascript:alert(1)", live=False)
    await through(tctx, audit, bad)
    assert bad.response.status_code == 302
    assert {r["action"] for r in report_lines(tmp_path)} == {"logged"}


def test_block_on_is_validated(addon):
    tctx, audit = addon
    with pytest.raises(exceptions.OptionsError, match="redirect_audit_block_on: one of"):
        tctx.configure(audit, redirect_audit_block_on="severe")


def test_secret_lists_are_options(addon):
    tctx, audit = addon
    tctx.configure(audit, redirect_audit_secret_fields=["Tenant_PIN"], redirect_audit_secret_headers=["X-Tenant"])
    assert audit.auditor.policy.fields == frozenset({"tenant_pin"})
    assert audit.auditor.policy.headers == frozenset({"x-tenant"})


async def test_unparsed_bodies_are_counted_in_the_summary(addon, caplog):
    tctx, audit = addon
    caplog.set_level(logging.WARNING)
    broken = flow("POST", "http://a.example/login", content=b'{"password": ', status=307, location="/next")
    broken.request.headers["content-type"] = "application/json"
    await through(tctx, audit, broken)
    audit.done()
    assert "1 bodies not parsed for credentials" in caplog.text


async def test_bytes_that_are_not_utf8_reach_every_output_printable(tmp_path):
    """A request path and a Location with bytes that are not UTF-8 (mitmproxy holds them as surrogate escapes):
    the finding is written to the report, the HTML report and the flow's metadata, which a flow file saves."""
    audit = RedirectAudit()
    with taddons.context(audit) as tctx:
        html = tmp_path / "report.html"
        tctx.configure(audit, redirect_audit_report=str(tmp_path / "report.jsonl"), redirect_audit_html=str(html))
        redirected = flow("GET", "http://a.example/x", status=302)
        redirected.request.path = b"/caf\xe9"
        redirected.response.headers.fields = ((b"Location", b"/th\xe9"), (b"Location", b"/second"))
        await through(tctx, audit, redirected)
        audit.done()
    records = {record["rule"]: record for record in report_lines(tmp_path)}
    assert set(records) == {"location-confusing", "not-followed"}  # the Location is usable: no location-missing
    record = records["location-confusing"]
    assert record["redirect_url"] == "http://a.example/caf%E9"
    assert record["evidence"]["location_confusing"] == ["not-utf8"]
    assert record["location"] == "http://a.example/th%EF%BF%BD"
    assert "caf%E9" in html.read_text(encoding="utf-8")
    with (tmp_path / "saved.mitm").open("wb") as saved:
        io.FlowWriter(saved).add(redirected)  # the metadata is serialisable as mitmproxy saves flows
    assert redirected.metadata[METADATA_KEY][0]["redirect_url"] == "http://a.example/caf%E9"
