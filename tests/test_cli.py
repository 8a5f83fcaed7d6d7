"""The `redirect-audit` command and stock `mitmdump -s`, as real processes."""

from __future__ import annotations

import json
import subprocess

import pytest
from mitmproxy import io

from redirect_audit.rules.pack import RuleSet

from .harness.clients import send
from .harness.process import BIN, ProxyProcess, addon_script

BAD_RULES = "rules:\n  - id: shouty\n    title: t\n    severity: loud\n    description: d\n    when: {}\n"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "redirect-audit"), *args], capture_output=True, text=True, timeout=60)


def test_rules_list_shows_every_default_rule():
    done = cli("rules", "list")
    assert done.returncode == 0
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert listed == list(RuleSet.load().rules)


def test_rules_explain():
    done = cli("rules", "explain", "body-dropped")
    assert done.returncode == 0
    assert "Request body lost" in done.stdout and "RFC 9110" in done.stdout and "body_state" in done.stdout
    missing = cli("rules", "explain", "no-such-rule")
    assert missing.returncode == 2 and "no rule 'no-such-rule'" in missing.stderr


def test_rules_facts_lists_the_catalog():
    done = cli("rules", "facts")
    assert done.returncode == 0 and "body_state (enum; followup)" in done.stdout


def test_rules_check(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("overrides:\n  body-dropped: {severity: critical}\ndisable: [post-became-get]\n")
    done = cli("rules", "check", str(good))
    assert done.returncode == 0 and f"{len(RuleSet.load().rules) - 1} rules in force" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_RULES)
    done = cli("rules", "check", str(bad))
    assert done.returncode == 2
    assert f"{bad}:4: rule 'shouty': severity must be one of" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["proxy", "--bogus"],
        ["proxy", "--follow-timeout", "soon"],
        ["proxy", "--max-pending", "0"],
        ["proxy", "--listen-port", "x"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args):
    done = cli(*args)
    assert done.returncode == 2 and done.stderr


def test_proxy_refuses_to_start_on_bad_rules(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_RULES)
    done = cli("proxy", "--listen-port", "1", "--rules", str(bad))
    assert done.returncode == 2
    assert f"{bad}:4: rule 'shouty'" in done.stderr


def test_mitmdump_refuses_to_start_on_bad_rules(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_RULES)
    done = subprocess.run(
        [str(BIN / "mitmdump"), "-n", "-s", addon_script(), "--set", f"redirect_audit_rules={bad}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{bad}:4: rule 'shouty': severity must be one of" in done.stderr


def test_proxy_saves_annotated_flows_and_summarises_on_sigterm(tmp_path, upstream):
    saved = tmp_path / "session.mitm"
    proxy = ProxyProcess.cli(tmp_path, "--save", str(saved), follow_timeout="30")
    try:
        put = send(
            "requests",
            "PUT",
            upstream.url("/redirect?status=301&to=/echo%3Fcli"),
            proxy=proxy.url,
            body=b'{"a":1}',
            headers={"Content-Type": "application/json"},
        )
        unfollowed = send(
            "requests", "GET", upstream.url("/redirect?status=302&to=/away"), proxy=proxy.url, follow=False
        )
        assert put.ok and unfollowed.ok
    finally:
        assert proxy.stop() == 0
    # every redirect still pending at shutdown is reported as not followed
    assert {f["rule"] for f in proxy.findings()} == {"body-dropped", "not-followed"}
    assert "[HIGH] body-dropped: 301 PUT" in proxy.output
    assert "redirect-audit summary: 2 redirects, 1 followed, 1 not followed" in proxy.output
    flows = list(io.FlowReader(saved.open("rb")).stream())
    marked = [f for f in flows if f.marked]
    assert [f.request.path for f in marked] == ["/echo?cli"]
    assert marked[0].comment == "redirect-audit: body-dropped (high)"
    assert marked[0].metadata["redirect_audit"][0]["rule"] == "body-dropped"


def test_stock_mitmdump_live_and_replayed(tmp_path, upstream):
    saved = tmp_path / "dump.mitm"
    proxy = ProxyProcess.mitmdump(tmp_path, "-w", str(saved))
    try:
        result = send(
            "curl",
            "PUT",
            upstream.url("/redirect?status=301&to=/echo%3Fdump"),
            proxy=proxy.url,
            body=b'{"a":1}',
            headers={"Content-Type": "application/json"},
        )
        assert result.ok
        proxy.wait_for("", "body-dropped")
    finally:
        proxy.stop()
    live = [(f["rule"], f["redirect_url"], f["followup_url"]) for f in proxy.findings()]
    assert live and live[0][0] == "body-dropped"
    assert "[HIGH] body-dropped" in proxy.output

    # the recording, through stock mitmdump and the same addon: the same findings
    report = tmp_path / "replayed.jsonl"
    done = subprocess.run(
        [
            str(BIN / "mitmdump"),
            "-n",
            "-r",
            str(saved),
            "-s",
            addon_script(),
            "--set",
            f"redirect_audit_report={report}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    replayed = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(f["rule"], f["redirect_url"], f["followup_url"]) for f in replayed] == live
    assert all(f["action"] == "logged" for f in replayed)


@pytest.mark.parametrize("where", ["--set", "config.yaml"])
def test_mitmdump_refuses_a_misspelt_option(tmp_path, where):
    """`redirect_audit_blockon=high` must not start the proxy with block mode silently off."""
    command = [str(BIN / "mitmdump"), "-n", "-s", addon_script(), "--set", f"confdir={tmp_path}"]
    if where == "--set":
        command += ["--set", "redirect_audit_blockon=high"]
    else:
        (tmp_path / "config.yaml").write_text("redirect_audit_blockon: high\n")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown option redirect_audit_blockon (did you mean redirect_audit_block_on?)" in done.stderr
