"""The chain log the HTML report draws: every hop with its follow-up and findings, redacted and printable, bounded
in chains, hops and bytes; clean chains are given up first (least recently active first), chains with findings never
for clean ones, and what is not kept is counted."""

from __future__ import annotations

from redirect_audit.auditor import Auditor, shown_url
from redirect_audit.reports import chains as chains_module
from redirect_audit.reports.chains import MAX_HOPS, ChainLog

from ..exchanges import req, resp
from .traffic import TOKEN, auditor, clean, findings, live, login_307, token_location, unfollowed


def observed(audit: Auditor, max_chains: int = 2000) -> ChainLog:
    """A chain log fed by the auditor's events, as a Session feeds its own."""
    log = ChainLog(redact=lambda url: shown_url(url, audit.policy), max_chains=max_chains)
    audit.observers.append(log.observe)
    return log


def hops(log: ChainLog, chain: str) -> list[str]:
    """Each kept hop of the chain in a line: number, 3xx, follow-up, followed (None: still waiting), findings."""
    return [
        f"{hop.number}: {hop.status} {hop.method} {hop.url} -> {hop.location} | {hop.followup_method} "
        f"{hop.followup_url} | {hop.followed} | {' '.join(finding.rule for finding in hop.findings)}"
        for hop in log.chains[chain].hops
    ]


def test_every_hop_is_kept_with_its_followup():
    audit = auditor()
    log = observed(audit)
    findings(clean("c", hops=2), audit)
    assert hops(log, "c") == [
        "1: 302 GET https://shop.example/c/0 -> https://shop.example/c/1 | GET https://shop.example/c/1 | True | ",
        "2: 302 GET https://shop.example/c/1 -> https://shop.example/c/2 | GET https://shop.example/c/2 | True | ",
    ]
    assert log.chains["c"].client == "c1" and log.chains["c"].worst is None
    assert (log.seen, log.left_out, log.findings_left_out) == (1, 0, 0)


def test_findings_go_on_their_hop_and_the_worst_severity_is_the_chains():
    audit = auditor()
    log = observed(audit)
    findings(login_307("l") + clean("c", time=5000.0), audit)
    assert hops(log, "l") == [
        "1: 307 POST https://idp.example/login -> https://app.example/cb | POST https://app.example/cb | True | "
        "credential-post-307 credentials-forwarded"
    ]
    assert log.chains["l"].worst == "critical" and log.chains["l"].hops[0].worst == "critical"
    assert [finding.rule for finding in log.chains["l"].findings] == ["credential-post-307", "credentials-forwarded"]


def test_a_redirect_nobody_followed_is_marked_so_and_one_still_waiting_is_not():
    audit = auditor()
    log = observed(audit)
    live(unfollowed("u"), audit)
    hop = "1: 302 GET https://shop.example/promo -> https://shop.example/sale | None None"
    assert hops(log, "u") == [f"{hop} | None | "]
    audit.finish(4000.0)
    assert hops(log, "u") == [f"{hop} | False | not-followed"]


def test_urls_are_redacted_and_methods_printable():
    audit = auditor()
    log = observed(audit)
    odd = [(req("P\udcffST", "https://shop.example/form", b"a=1", flow_id="odd", time=1.0), resp(302, "/next", 1.5))]
    findings(token_location("t") + odd, audit)
    (hop,) = log.chains["t"].hops
    assert TOKEN not in hop.location and TOKEN not in hop.followup_url
    shown = shown_url(f"https://other.example/cb?access_token={TOKEN}&view=1", audit.policy)
    assert hop.location == hop.followup_url == shown and "access_token=redacted:" in shown
    assert log.chains["odd"].hops[0].method == "P%FFST"


def test_clean_chains_are_given_up_least_recently_active_first():
    audit = auditor()
    log = observed(audit, max_chains=2)
    a, b = clean("a", time=1.0, hops=2), clean("b", time=1.5)  # a is active again (hop 2) after b's last event
    findings(sorted(a + b, key=lambda exchange: exchange[0].time) + clean("c", time=10.0), audit)
    assert list(log.chains) == ["a", "c"]
    assert (log.seen, log.left_out, log.findings_left_out) == (3, 1, 0)


def test_chains_with_findings_are_never_given_up_and_what_is_not_kept_is_counted():
    audit = auditor()
    log = observed(audit, max_chains=2)
    scenes = login_307("l1", 10.0) + clean("x", 20.0) + login_307("l2", 30.0) + login_307("l3", 40.0)
    findings(scenes + clean("y", 50.0), audit)
    assert list(log.chains) == ["l1", "l2"]  # x made room for l2; no room for l3 (2 findings) nor y
    assert (log.seen, log.left_out, log.findings_left_out) == (5, 3, 2)


def test_the_kept_urls_are_bounded_in_bytes_clean_chains_given_up_for_them(monkeypatch):
    monkeypatch.setattr(chains_module, "MAX_BYTES", 5000)
    audit = auditor()
    log = observed(audit)
    long = "p" * 1000  # each chain's hop holds its URL, Location and follow-up URL: over 3,000 bytes
    findings([exchange for n in range(4) for exchange in clean(f"c{n}", 10.0 * n, path=long)], audit)
    assert list(log.chains) == ["c2", "c3"]  # each new one gave up the oldest while the kept ones were over 5,000
    newest = sum(hop.size for hop in log.chains["c3"].hops)
    assert sum(hop.size for chain in log.chains.values() for hop in chain.hops) <= 5000 + newest
    assert (log.seen, log.left_out) == (4, 2)


def test_chains_with_findings_are_not_given_up_for_bytes_either(monkeypatch):
    monkeypatch.setattr(chains_module, "MAX_BYTES", 100)  # one login chain's URLs hold about 75 bytes
    audit = auditor()
    log = observed(audit)
    findings(login_307("l1", 10.0) + login_307("l2", 20.0) + login_307("l3", 30.0), audit)
    assert list(log.chains) == ["l1", "l2"]
    assert (log.seen, log.left_out, log.findings_left_out) == (3, 1, 2)


def test_at_most_max_hops_of_a_chain_are_kept_and_the_findings_beyond_are_counted():
    audit = auditor()
    log = observed(audit)
    findings(clean("long", hops=MAX_HOPS + 2)[:-1], audit)  # the last redirect is not followed
    kept = log.chains["long"].hops
    assert [hop.number for hop in kept] == list(range(1, MAX_HOPS + 1))
    assert [finding.rule for finding in log.chains["long"].findings] == ["too-many-redirects"]  # the 21st
    assert log.findings_left_out == 1  # not-followed, on hop MAX_HOPS + 2
