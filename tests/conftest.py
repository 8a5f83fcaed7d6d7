"""Real processes for integration tests: the scenario upstream, `redirect-audit proxy`, `mitmdump -s`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redirect_audit.demo.upstream import ScenarioUpstream

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"proxy exited with {process.returncode}: {process.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class ProxyProcess:
    """A proxy process with the addon, its report, and its console output once stopped."""

    def __init__(self, command: list[str], port: int, report: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.report = report
        self.output = ""
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_quiet_env()
        )
        wait_for_port(port, self.process)

    def findings(self, token: str = "") -> list[dict]:
        """Report records whose redirect URL contains `token` (tests tag their URLs to share a proxy)."""
        if not self.report.exists():
            return []
        records = [json.loads(line) for line in self.report.read_text().splitlines()]
        return [r for r in records if token in r["redirect_url"]]

    def wait_for(self, token: str, rule: str, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.findings(token)
            if any(f["rule"] == rule for f in found):
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {rule} for {token}; found {[f['rule'] for f in self.findings(token)]}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output, _ = self.process.communicate()
        return self.process.returncode


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(name, None)
    return env


def start_cli_proxy(tmp: Path, *extra: str, follow_timeout: str = "2") -> ProxyProcess:
    port = free_port()
    report = tmp / "report.jsonl"
    command = [
        str(BIN / "redirect-audit"),
        "proxy",
        "--listen-port",
        str(port),
        "--report",
        str(report),
        "--follow-timeout",
        follow_timeout,
        *extra,
    ]
    return ProxyProcess(command, port, report)


def start_mitmdump(tmp: Path, *extra: str) -> ProxyProcess:
    port = free_port()
    report = tmp / "report.jsonl"
    script = subprocess.run(
        [sys.executable, "-m", "redirect_audit.script"], capture_output=True, text=True, check=True
    ).stdout.strip()
    command = [
        str(BIN / "mitmdump"),
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "-s",
        script,
        "--set",
        f"redirect_audit_report={report}",
        "--set",
        "redirect_audit_follow_timeout=2",
        *extra,
    ]
    return ProxyProcess(command, port, report)


@pytest.fixture(scope="module")
def upstream():
    with ScenarioUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def cli_proxy(tmp_path_factory):
    proxy = start_cli_proxy(tmp_path_factory.mktemp("cli-proxy"))
    yield proxy
    proxy.stop()
