"""The auditor's verdicts held against the client matrix: for every client CI installs, every deviation a
client really shows (read from what the upstream received) is reported by the right rule, and every
conformant follow-up is clean. The expectations below restate the rules independently of the engine."""

from __future__ import annotations

import pytest

from .harness import matrix
from .harness.clients import matrix_clients

JUDGED = set(matrix.CODES)  # the rules this matrix can provoke
CONTENT_HEADERS = ("content-type", "content-encoding", "content-language", "content-location", "digest")
CROSS_ORIGIN_SECRET = {
    "authorization": "authorization-cross-origin",
    "secret-header": "secret-header-cross-origin",
    "form": "credentials-forwarded",
}


def expected(outcome: matrix.Outcome) -> set[str]:
    case, arrival = outcome.case, outcome.arrival
    rules = set()
    other_origin = case.relation != "same-origin"
    if case.relation == "https-to-http":
        rules.add("https-downgrade")
    if case.secret == "form" and case.status in (307, 308) and other_origin:
        rules.add("credential-post-307")
    if arrival is None:
        return rules | {"not-followed"}
    sent, got = case.body or b"", arrival.body
    original, followup = case.method, arrival.method
    preserving = case.status in (307, 308)
    if preserving and followup != original:
        rules.add("method-changed")
    if sent and not got and (followup == original or preserving):
        rules.add("body-dropped")
    if preserving and got and got != sent:
        rules.add("body-altered")
    if case.status == 303 and followup != "GET" and not (original == followup == "HEAD"):
        rules.add("see-other-not-get")
    if original == "HEAD" and followup == "GET":
        rules.add("head-became-get")
    if case.status in (301, 302) and followup != original and original not in ("POST", "HEAD"):
        rules.add("method-rewrite-disallowed")
    content = any(arrival.header(name) for name in CONTENT_HEADERS) or arrival.header("content-length") not in (
        None,
        "0",
    )
    if followup in ("GET", "HEAD") and followup != original and (got or content):
        rules.add("body-after-get")
    if case.status in (301, 302) and original == "POST" and followup == "GET":
        rules.add("post-became-get")
    if outcome.secret_sent and other_origin and case.secret in CROSS_ORIGIN_SECRET:
        rules.add(CROSS_ORIGIN_SECRET[case.secret])
    if outcome.secret_sent and case.secret == "cookie" and case.relation == "cross-origin":
        rules.add("cookie-cross-origin")  # https->http keeps the host: the cookie is the target's too
    return rules


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    # Every status, method and relation; two kinds of secret (a header, form credentials) keep CI quick.
    # scripts/client_matrix.py runs all four for docs/client-matrix.md.
    chosen = lambda case: case.secret in ("authorization", "form")  # noqa: E731
    return matrix.run(matrix_clients(), chosen, browser=True, workdir=tmp_path_factory.mktemp("matrix"))


def test_ci_has_every_client(outcomes):
    clients = {o.client for o in outcomes}
    assert clients >= {"urllib", "requests", "httpx", "curl", "aiohttp", "urllib3", "node-fetch",
                       "chromium-fetch", "chromium-form"}  # fmt: skip


@pytest.mark.parametrize(
    "client",
    ["urllib", "requests", "httpx", "curl", "aiohttp", "urllib3", "node-fetch", "chromium-fetch", "chromium-form"],
)
def test_verdicts_match_what_each_client_sent(outcomes, client):
    mine = [o for o in outcomes if o.client == client]
    assert mine
    wrong = [
        f"{o.case}: sent {o.cell()}; expected {sorted(expected(o))}, reported {sorted(set(o.rules) & JUDGED)}"
        for o in mine
        if expected(o) != set(o.rules) & JUDGED
    ]
    assert not wrong, "\n".join(wrong)


def test_conformant_followups_are_clean(outcomes):
    """A 307 that keeps method and body to the same origin is clean for every client that follows it."""
    clean = [o for o in outcomes if o.case.status == 307 and o.case.relation == "same-origin" and o.followed
             and o.arrival.method == o.case.method and o.body in ("kept", "none")]  # fmt: skip
    assert clean
    assert all(not o.rules for o in clean)


def test_tables(outcomes):
    versions = {"curl": "8.0"}
    text = matrix.markdown(outcomes, versions, "today")
    cases = {o.case for o in outcomes}
    assert len([line for line in text.splitlines() if line.startswith("| 30")]) == len(cases)
    assert "| curl | 8.0 |" in text and "## 307 and 308: is the method kept?" in text
    page = matrix.html(outcomes, versions, "today")
    assert "--critical:" in page  # the HTML report's style
    assert page.count("<tr><td>30") == len(cases) and 'class="flag"' in page
