"""`redirect-audit proxy` as a real process on a free loopback port, for the demo: its JSON Lines report and, once
stopped, its console output."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

_PROXY_ENV = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProxyProcess:
    """A proxy process started with `command`, listening on `port`, writing its findings to `report`."""

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

    def findings(self) -> list[dict]:
        """The report's records so far."""
        if not self.report.exists():
            return []
        return [json.loads(line) for line in self.report.read_text().splitlines()]

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
