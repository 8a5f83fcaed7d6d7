"""What a proxy process leaves behind, read strictly: its report (every line a whole record with the report's
fields), the summary it prints at exit, and the flow ids of a `--save` flow file (mitmproxy's own record)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mitmproxy import http, io

from .harness.process import ProxyProcess

PROBE_RULES = str(Path(__file__).parent / "data" / "probe-rules.yaml")
REPORT_FIELDS = {
    "rule",
    "severity",
    "title",
    "action",
    "status",
    "redirect_url",
    "location",
    "original_method",
    "followup_method",
    "followup_url",
    "client",
    "user_agent",
    "chain",
    "flows",
    "pairing",
    "oauth_flow",
    "references",
    "evidence",
    "time",
    "stage",
}
_SUMMARY = re.compile(r"redirect-audit summary: (\d+) redirects, (\d+) followed, (\d+) not followed, (\d+) evicted")


def report_records(proxy: ProxyProcess) -> list[dict]:
    """Every line of the report, each a whole JSON record with the report's fields; a line cut short fails."""
    data = proxy.report.read_bytes() if proxy.report.exists() else b""
    assert not data or data.endswith(b"\n"), "the report ends in the middle of a line"
    records = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert all(set(record) == REPORT_FIELDS for record in records)
    return records


def summary_counts(output: str) -> dict[str, int]:
    """The counts of the summary a stopped proxy printed (exactly one)."""
    (counts,) = _SUMMARY.findall(output)
    return dict(zip(("redirects", "followed", "not_followed", "evicted"), map(int, counts), strict=True))


def saved_flows(path: Path) -> dict[tuple[str, str, str], http.HTTPFlow]:
    """The flows of a `--save` file by (client address, method, URL); each key must be unique."""
    flows = {}
    with path.open("rb") as file:
        for flow in io.FlowReader(file).stream():
            key = (flow.client_conn.peername[0], flow.request.method, flow.request.url)
            assert key not in flows, f"two flows for {key}"
            flows[key] = flow
    return flows
