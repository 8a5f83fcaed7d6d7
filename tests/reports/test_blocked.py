"""What a blocked client gets: the X-Redirect-Audit header and the plain-text page, naming each rule, what it means
and its references; never a secret, not even one the blocked Location carries."""

from __future__ import annotations

from redirect_audit.auditor import Finding, shown_url
from redirect_audit.engine.secrets import SecretPolicy
from redirect_audit.reports.blocked import blocked_header, blocked_page

from ..exchanges import req, resp
from .traffic import FORM, KEY, PASSWORD, RULES, TOKEN, auditor, live, login_307


def blocked(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.action == "blocked"]


def descriptions(findings: list[Finding]) -> dict[str, str]:
    """As the addon gives them: each blocked rule's description."""
    return {finding.rule: RULES.rules[finding.rule].description for finding in findings}


def test_a_blocked_followup_names_the_request_and_each_rule_with_what_it_means():
    (forwarded,) = blocked(live(login_307(), auditor(block_on="critical")))
    assert blocked_header([forwarded]) == "blocked; rule=credentials-forwarded; severity=critical"
    page = blocked_page([forwarded], descriptions([forwarded]))
    assert page == (
        "redirect-audit blocked the follow-up POST https://app.example/cb\n"
        "\n"
        "- credentials-forwarded (critical): Credentials re-sent to another origin\n"
        "    The follow-up sends credential fields of the original request (a password, a client secret,\n"
        "    a token) again, to a different origin than the one they were meant for. This is the OAuth\n"
        "    307 attack of Fett, Küsters and Schmitz: the user's password ends up at the client site or\n"
        "    an attacker's.\n"
        "    RFC 9700 §4.12 (307 Redirect)\n"
        "    RFC 9110 §15.4.8 (307 Temporary Redirect)\n"
        "    Fett, Küsters, Schmitz: A Comprehensive Formal Security Analysis of OAuth 2.0 (CCS 2016)\n"
        "\n"
        "Explain a rule: redirect-audit rules explain RULE-ID\n"
    )
    assert all(len(line) <= 100 for line in page.splitlines()[1:-1])  # descriptions wrapped, 4 + 96


def test_a_blocked_redirect_names_the_3xx_and_every_rule_in_the_header():
    location = f"https://alice:{PASSWORD}@evil.example/cb?access_token={TOKEN}&password={PASSWORD}"
    login = req("POST", "https://idp.example/login", f"user=alice&password={PASSWORD}".encode(), headers=FORM)
    found = blocked(live([(login, resp(307, location))], auditor(block_on="medium")))
    assert [finding.rule for finding in found] == ["credential-post-307", "location-confusing", "token-in-location"]
    assert blocked_header(found) == (
        "blocked; rule=credential-post-307; severity=high, blocked; rule=location-confusing; severity=medium, "
        "blocked; rule=token-in-location; severity=high"
    )
    page = blocked_page(found, descriptions(found))
    first, *rest = page.splitlines()
    shown = shown_url(location, SecretPolicy(key=KEY))  # userinfo and secret parameters as fingerprints
    assert first == f"redirect-audit blocked the 307 redirect from https://idp.example/login to {shown}"
    assert [line for line in rest if line.startswith("- ")] == [
        "- credential-post-307 (high): Request carrying credentials redirected with 307/308 to another origin",
        "- location-confusing (medium): Location that browsers and other parsers read differently",
        "- token-in-location (high): Token or password in the Location",
    ]
    for secret in (PASSWORD, TOKEN):
        assert secret not in page and secret not in blocked_header(found)
