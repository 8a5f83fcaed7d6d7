"""`redirect-audit demo` as a newcomer runs it: a real process, finishing by itself."""

import re
import subprocess
from pathlib import Path

import pytest

from .harness.process import BIN


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_demo_runs_end_to_end(https):
    command = [str(BIN / "redirect-audit"), "demo", *(["--https"] if https else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # with the `demo` extra and curl (scripts/bootstrap installs them), a newcomer sees every client
    assert "12 scenarios x 6 clients (urllib, requests, httpx, curl, naive-get, naive-replay)" in out
    assert "skipped" not in out
    # deviations real clients show, as judged through the proxy
    assert re.search(r"naive-get\s+method-changed, body-dropped", out)
    assert re.search(r"naive-replay\s+body-altered", out)
    assert re.search(r"requests\s+body-dropped", out)  # requests keeps PUT on 301 but drops its body
    assert re.search(r"urllib\s+head-became-get", out)
    # the seed scenarios: the 307 webhook preserved, the 302 marketing page clean, for the libraries
    webhook = out.split("webhook-307:")[1].split("\n\n")[0]
    assert re.search(r"requests\s+clean", webhook) and re.search(r"httpx\s+clean", webhook)
    marketing = out.split("marketing-302:")[1].split("\n\n")[0]
    assert marketing.count("clean") == len(marketing.strip().splitlines()) - 1
    login = out.split("login-307:")[1].split("\n\n")[0]
    assert re.search(r"requests\s+credential-post-307, credentials-forwarded", login)
    assert re.search(r"urllib\s+authorization-cross-origin, cookie-cross-origin", out)
    assert "redirect-audit summary:" in out
    assert ("upstream on https://127.0.0.1:" in out) is https
    report = re.search(r"report: (\S+)", out).group(1)
    assert Path(report).read_text().count('"rule"') > 20
