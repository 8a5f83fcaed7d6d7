"""Hostile input never breaks the engine, the rules or the addon: property-based tests over Location values,
methods, bodies and content types (the addon swallows an exception per flow, so it is checked that there
is none to swallow)."""

from __future__ import annotations

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import taddons, tflow

from redirect_audit.adapters.mitmproxy_addon import RedirectAudit
from redirect_audit.auditor import Auditor
from redirect_audit.rules.pack import RuleSet

from .exchanges import req, resp

RULES = RuleSet.load()
PUNCTUATION = list("/\\:@?#%.&=;[]\t\r\n \x00\x7f") + [
    "%zz",
    "%2F",
    "javascript:",
    "https:",
    "//",
    "xn--",
    "ü",
    "[::1]",
]
locations = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(PUNCTUATION + list("ab1")), max_size=40).map("".join),
    st.just("/" + "a" * 65_536),
    st.sampled_from(["", "//evil.example", "/\\evil.example", "https:evil", "http://[::1]:99999/", "data:,x"]),
)
methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "get"])
content_types = st.sampled_from([
    "application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
    "multipart/form-data", "text/plain", "application/vnd.api+json; charset=utf-8", "",
])  # fmt: skip
bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b'{"password": ', b"[" * 3000, b"--b\r\nContent-Disposition: form-data\r\n\r\nx", b"%%%=&&="]),
)


@settings(max_examples=300, deadline=None)
@given(
    location=locations,
    second=st.none() | locations,
    status=st.sampled_from([301, 302, 303, 307, 308]),
    method=methods,
    followup_method=methods,
    content_type=content_types,
    body=bodies,
)
def test_engine_and_rules_never_raise(location, second, status, method, followup_method, content_type, body):
    auditor = Auditor(RULES, block_on="info")
    headers = [("Content-Type", content_type), ("Cookie", "a=b; broken; =x"), ("Authorization", "Basic x")]
    original = req(method, "https://a.example/login?next=" + location[:50], body=body, headers=headers, time=1)
    response = resp(status, location, time=1.1, headers=[("Location", second)] if second is not None else [])
    findings = auditor.response(original, response, live=True)
    pending = auditor.pairing.pending
    if pending:  # follow it wherever it pointed
        target = auditor.pairing._pending[next(iter(auditor.pairing._pending))].keys[0][1]
        findings += auditor.request(req(followup_method, target, body=body, headers=headers, time=2), live=True)
    findings += auditor.finish(3)
    assert all(f.rule in RULES.rules for f in findings)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(location=locations, status=st.sampled_from([301, 302, 307]), body=bodies, content_type=content_types)
def test_addon_never_logs_an_internal_error(caplog, location, status, body, content_type):
    caplog.clear()
    audit = RedirectAudit()
    with taddons.context(audit) as tctx:
        tctx.configure(audit)
        caplog.set_level(logging.WARNING)
        request = http.Request.make("POST", "http://a.example/x", body, {"content-type": content_type})
        response = http.Response.make(status, b"", {})
        response.headers.add("location", location.replace("\x00", "")) if location else None
        flow = tflow.tflow(req=request, resp=response, live=False)
        for hook in ("request", "response"):
            getattr(audit, hook)(flow)
        # Shut down as mitmproxy does: the addons' done(), then the master's log handler is removed. Left
        # installed, it would outlive the context's closed event loop and break logging in the next example.
        tctx.master.event_loop.run_until_complete(tctx.master.done())
    assert "internal error" not in caplog.text
