"""The client matrix's Location-spelling axis: for every client CI installs, each follow-up is paired with its
own redirect whatever spelling the client sent for the Location, and no follow-up becomes `not-followed`."""

from __future__ import annotations

import pytest

from redirect_audit.demo.tls import self_signed

from .harness import spellings
from .harness.clients import matrix_clients, send
from .harness.process import ProxyProcess
from .harness.upstream import ScenarioUpstream

CLIENTS = ["urllib", "requests", "httpx", "curl", "aiohttp", "urllib3", "node-fetch", "chromium-fetch",
           "chromium-navigation"]  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return spellings.run(matrix_clients(), browser=True, workdir=tmp_path_factory.mktemp("spellings"))


def test_every_client_tried_every_spelling(outcomes):
    assert {(o.client, o.spelling) for o in outcomes} == {(c, s) for c in CLIENTS for s in spellings.SPELLINGS}


@pytest.mark.parametrize("client", CLIENTS)
def test_every_followup_is_paired_with_its_redirect(outcomes, client):
    mine = [o for o in outcomes if o.client == client]
    followed = [o for o in mine if o.arrival is not None]
    assert len(followed) == len(spellings.SPELLINGS)  # every client follows a 302 GET, whatever its spelling
    unpaired = [f"{o.spelling}: sent {o.arrival.path}" for o in followed if not o.paired or o.not_followed]
    assert not unpaired, "\n".join(unpaired)


def test_clients_really_respell(outcomes):
    """The axis measures something: real clients send other spellings than the Location's."""
    sent = {(o.client, o.spelling): o.arrival.path.split("/", 2)[2] for o in outcomes if o.arrival}
    assert sent["requests", "%7e"] == "~user" and sent["curl", "%7e"] == "%7euser"
    assert sent["requests", "| in the query"] == "q?a=1%7C2" and sent["curl", "| in the query"] == "q?a=1|2"
    assert sent["urllib3", "raw UTF-8"] == "caf%C3%83%C2%A9"  # it reads header bytes as ISO-8859-1


def test_the_table(outcomes):
    text = spellings.markdown(outcomes)
    assert len([line for line in text.splitlines() if line.startswith("| ") and "`" in line]) == len(
        spellings.SPELLINGS
    )
    assert "NOT PAIRED" not in text


def test_a_secret_header_to_a_respelled_host_is_blocked(tmp_path):
    """`Location: http://B.EXAMPLE.TEST:80/%7ekey` from a.example.test: requests re-sends X-API-Key to b, spelled
    its own way; block mode stops it before it leaves."""
    with ScenarioUpstream.virtual(self_signed(tmp_path, ("localhost",))) as upstream:
        proxy = ProxyProcess.before(upstream, tmp_path, "--block-on", "medium")
        try:
            url = upstream.go(302, "http://B.EXAMPLE.TEST:80/%7ekey", "http://a.example.test")
            result = send("requests", "GET", url, proxy=proxy.url, headers={"X-API-Key": "k-7e"})
        finally:
            proxy.stop()
        assert result.status == 403
        assert not [a for a in upstream.arrivals if a.origin == "http://b.example.test"]
        (finding,) = [f for f in proxy.findings() if f["rule"] == "secret-header-cross-origin"]
        assert finding["action"] == "blocked" and finding["followup_url"] == "http://b.example.test/~key"
