"""Shared real parts for integration tests: the scenario upstream and a `redirect-audit proxy` process."""

from __future__ import annotations

import pytest

from .harness.process import ProxyProcess
from .harness.upstream import ScenarioUpstream


@pytest.fixture(scope="module")
def upstream():
    with ScenarioUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def cli_proxy(tmp_path_factory):
    proxy = ProxyProcess.cli(tmp_path_factory.mktemp("cli-proxy"))
    yield proxy
    proxy.stop()
