"""Proxies with the addon as real processes on free loopback ports: the demo's `redirect-audit proxy` process
(`redirect_audit.demo.proxy`), and stock `mitmdump -s`, a proxy in front of a virtual upstream, tokens to share
one proxy between tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from redirect_audit.demo import proxy as demo
from redirect_audit.demo.proxy import free_port

if TYPE_CHECKING:
    from .upstream import ScenarioUpstream

__all__ = ["BIN", "LOOPBACK_ONLY", "VIRTUAL_ONLY", "ProxyProcess", "addon_script", "free_port"]

BIN = Path(sys.executable).parent
# Proxy options that keep a browser's own background requests (component updates) on this machine: the
# proxy kills every request not for a loopback address, before any DNS lookup.
LOOPBACK_ONLY = ("--set", r"block_list=/!~d ^127\./444")
VIRTUAL_ONLY = ("--set", r"block_list=/!~d \.test$/444")  # the same for a virtual upstream's *.test hosts


def addon_script() -> str:
    """The path `mitmdump -s` takes, exactly as a user gets it: `python -m redirect_audit.script`."""
    done = subprocess.run([sys.executable, "-m", "redirect_audit.script"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


class ProxyProcess(demo.ProxyProcess):
    """A proxy process with the addon, its JSON Lines report, and its console output once stopped."""

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

    def findings(self, token: str = "") -> list[dict]:
        """Report records whose redirect URL contains `token` (callers tag URLs to share one proxy)."""
        return [r for r in super().findings() if token in r["redirect_url"]]

    def wait_for(self, token: str, rule: str, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.findings(token)
            if any(f["rule"] == rule for f in found):
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {rule} for {token!r}; found {[f['rule'] for f in self.findings(token)]}")
