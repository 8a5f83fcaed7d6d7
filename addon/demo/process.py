"""A proxy with the addon as a real process on a free loopback port: for the demo and the tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .upstream import ScenarioUpstream

BIN = Path(sys.executable).parent
# Proxy options that keep a browser's own background requests (component updates) on this machine: the
# proxy kills every request not for a loopback address, before any DNS lookup.
LOOPBACK_ONLY = ("--set", r"block_list=/!~d ^127\./444")
VIRTUAL_ONLY = ("--set", r"block_list=/!~d \.test$/444")  # the same for a virtual upstream's *.test hosts
_PROXY_ENV = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def addon_script() -> str:
    """The path `mitmdump -s` takes, exactly as a user gets it: `python -m redirect_audit.script`."""
    done = subprocess.run([sys.executable, "-m", "redirect_audit.script"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


class ProxyProcess:
    """A proxy process with the addon, its JSON Lines report, and its console output once stopped."""

    def __init__(self, command: list[str], port: int, report: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.report = report
        self.output = ""
        env = {name: value for name, value in os.environ.items() if name not in _PROXY_ENV}
        # The console goes to a file, not a pipe: a pipe nobody reads until the end fills up and blocks the proxy.
        self.console = report.with_name(f"console-{port}.log")
        with self.console.open("w") as console:
            self.process = subprocess.Popen(command, stdout=console, stderr=subprocess.STDOUT, env=env)
        self._wait_for_port()

    @classmethod
    def cli(cls, workdir: Path, *extra: str, follow_timeout: str = "2") -> ProxyProcess:
        """`redirect-audit proxy` with a report in `workdir`."""
        port, report = free_port(), workdir / "report.jsonl"
        command = [
            sys.executable, "-m", "redirect_audit.cli.main", "proxy", "--listen-port", str(port),
            "--report", str(report), "--follow-timeout", follow_timeout, *extra,
        ]  # fmt: skip
        return cls(command, port, report)

    @classmethod
    def before(cls, upstream: ScenarioUpstream, workdir: Path, *extra: str, follow_timeout: str = "2") -> ProxyProcess:
        """`redirect-audit proxy` in front of a virtual upstream (every *.test host behind it), its CA in `workdir`."""
        return cls.cli(
            workdir, "--set", f"mode=upstream:{upstream.proxy_address}", "--set", f"confdir={workdir}",
            "--set", "ssl_insecure=true", *VIRTUAL_ONLY, *extra, follow_timeout=follow_timeout,
        )  # fmt: skip

    @property
    def ca(self) -> str:
        """The proxy's CA certificate, for https clients (with `before`: in its workdir)."""
        return str(self.report.with_name("mitmproxy-ca-cert.pem"))

    @classmethod
    def mitmdump(cls, workdir: Path, *extra: str) -> ProxyProcess:
        """Stock `mitmdump -s <the addon>` with a report in `workdir`."""
        port, report = free_port(), workdir / "report.jsonl"
        command = [
            str(BIN / "mitmdump"), "--listen-host", "127.0.0.1", "--listen-port", str(port), "-s", addon_script(),
            "--set", f"redirect_audit_report={report}", "--set", "redirect_audit_follow_timeout=2", *extra,
        ]  # fmt: skip
        return cls(command, port, report)

    def _wait_for_port(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the proxy exited with {self.process.returncode}: {self.console.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"the proxy did not listen on port {self.port}")

    def findings(self, token: str = "") -> list[dict]:
        """Report records whose redirect URL contains `token` (callers tag URLs to share one proxy)."""
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
        raise AssertionError(f"no {rule} for {token!r}; found {[f['rule'] for f in self.findings(token)]}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output = self.console.read_text(errors="replace")
        return self.process.returncode
