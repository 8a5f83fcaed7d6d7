"""The console: one line per finding, naming the whole chain id, and the summary table with its counts."""

from __future__ import annotations

from redirect_audit.engine.pairing import Stats
from redirect_audit.engine.secrets import SecretPolicy
from redirect_audit.reports.console import Tally, finding_line

from ..exchanges import req, resp
from .traffic import KEY, PASSWORD, auditor, clean, findings, live, login_307, token_location, unfollowed


def test_a_followup_finding_names_the_redirect_the_followup_and_the_whole_chain():
    (_, forwarded) = findings(login_307("a-chain-id-much-longer-than-eight-characters"))
    assert finding_line(forwarded) == (
        "[CRITICAL] credentials-forwarded: 307 POST https://idp.example/login -> POST https://app.example/cb  "
        "(client c1, chain a-chain-id-much-longer-than-eight-characters hop 1)"
    )


def test_a_finding_without_followup_says_so():
    (token,) = findings(token_location())
    (not_followed,) = findings(unfollowed())
    assert finding_line(not_followed) == (
        "[INFO] not-followed: 302 GET https://shop.example/promo -> (no follow-up)  (client c1, chain promo hop 1)"
    )
    assert finding_line(token) == (
        "[HIGH] token-in-location: 302 GET https://app.example/done -> (no follow-up)  (client c1, chain token hop 1)"
    )


def test_a_secret_in_the_redirected_url_is_shown_as_its_fingerprint():
    url = f"https://app.example/sso?password={PASSWORD}&next=/home"
    (not_followed,) = findings([(req("GET", url, flow_id="sso", time=1.0), resp(302, "/home", time=1.5))])
    fingerprint = SecretPolicy(key=KEY).fingerprint(PASSWORD).removeprefix("hmac:")
    assert finding_line(not_followed) == (
        f"[INFO] not-followed: 302 GET https://app.example/sso?password=redacted:{fingerprint}&next=/home -> "
        "(no follow-up)  (client c1, chain sso hop 1)"
    )


def test_a_blocked_finding_says_blocked():
    blocked, logged = live(login_307(), auditor(block_on="critical")), findings(login_307())
    assert [finding.action for finding in blocked] == ["logged", "blocked"]
    assert finding_line(blocked[1]).startswith("[CRITICAL] BLOCKED credentials-forwarded: 307 POST ")
    assert finding_line(blocked[1]).replace(" BLOCKED", "") == finding_line(logged[1])


def test_the_summary_of_a_session_without_findings():
    audit = auditor()
    tally = Tally()
    for finding in findings(clean(hops=2), audit):
        tally.write(finding)
    assert tally.summary(audit.stats) == (
        "redirect-audit summary: 2 redirects, 2 followed, 0 not followed, 0 evicted from the pending table, "
        "0 bodies not parsed for credentials (too large or malformed)\n"
        "no findings"
    )


def test_the_summary_table_orders_by_severity_then_rule_and_counts_every_finding():
    audit, tally = auditor(), Tally()
    scenes = login_307("l1", 10.0) + login_307("l2", 20.0) + unfollowed("u", 30.0) + token_location("t", 40.0)
    for finding in findings(scenes, audit):
        tally.write(finding)
    assert tally.summary(audit.stats) == (
        "redirect-audit summary: 4 redirects, 3 followed, 1 not followed, 0 evicted from the pending table, "
        "0 bodies not parsed for credentials (too large or malformed)\n"
        "severity  rule                  count\n"
        "critical  credentials-forwarded     2\n"
        "high      credential-post-307       2\n"
        "high      token-in-location         1\n"
        "info      not-followed              1\n"
        "6 findings"
    )
    assert tally.total == 6 and tally.by_severity == {"critical": 2, "high": 3, "info": 1}


def test_the_summary_counts_the_blocked_findings():
    audit, tally = auditor(block_on="critical"), Tally()
    for finding in live(login_307("l1", 10.0) + login_307("l2", 20.0), audit):
        tally.write(finding)
    assert tally.blocked == 2
    assert tally.summary(audit.stats).endswith("\n4 findings, 2 blocked")


def test_the_summary_says_how_many_waiting_redirects_were_kept_with_their_urls_cut():
    audit, tally = auditor(), Tally()
    long_url = "https://shop.example/" + "a" * 5000
    waiting = [(req("GET", long_url, flow_id="long", time=1.0), resp(302, "/next", time=1.5))]
    for finding in findings(waiting + unfollowed(time=2.0), audit):
        tally.write(finding)
    assert audit.stats.cut == 1
    first = tally.summary(audit.stats).splitlines()[0]
    assert first.endswith("(too large or malformed), 1 waiting redirects kept with their long URLs cut")
    assert "URLs cut" not in Tally().summary(Stats())


def test_the_summary_counts_the_redirects_evicted_from_a_full_pending_table():
    audit, tally = auditor(max_pending=1), Tally()
    for finding in findings(unfollowed("u1", 1.0) + unfollowed("u2", 2.0), audit):  # u1 evicted when u2 waits
        tally.write(finding)
    assert tally.summary(audit.stats).splitlines()[0] == (
        "redirect-audit summary: 2 redirects, 0 followed, 1 not followed, 1 evicted from the pending table, "
        "0 bodies not parsed for credentials (too large or malformed)"
    )
