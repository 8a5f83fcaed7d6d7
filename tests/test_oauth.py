"""Logins followed step by step in the engine (`engine/oauth.py`): response modes, matching, what findings carry, what
they never show, and the bounds. Each rule's own firing case and near miss is in tests/rules/."""

from __future__ import annotations

import json

from redirect_audit.auditor import Auditor
from redirect_audit.engine import oauth, urls
from redirect_audit.engine.model import Body
from redirect_audit.engine.secrets import SecretPolicy
from redirect_audit.rules.pack import RuleSet

from .exchanges import req, resp

RULES = RuleSet.load()
AUTHORIZE = (
    "https://as.example/authorize?response_type={type}&client_id=rp&state=st4te&nonce=n0nce"
    "&redirect_uri=https%3A%2F%2Frp.example%2Fcb{extra}"
)
FORM = ("Content-Type", "application/x-www-form-urlencoded")


def audit(*exchanges):
    """(request, response) pairs, one second apart, through the one audit loop: the findings, by rule."""
    auditor = Auditor(RULES)
    for n, (request, response) in enumerate(exchanges):
        request.time = float(n)
        if response is not None:
            response.time = n + 0.5
    found = {}
    for batch in auditor.audit(exchanges):
        for finding in batch:
            found.setdefault(finding.rule, []).append(finding)
    return found, auditor


def login(location_answer, response_type="code", extra=""):
    """The relying party's redirect to the authorization request, then the server's answer to it."""
    authorize = AUTHORIZE.format(type=response_type, extra=extra)
    return [
        (req(url="https://rp.example/login", flow_id="rp-302"), resp(302, authorize)),
        (req(url=authorize, flow_id="as-answer"), location_answer),
    ]


def page(html: str, status: int = 200):
    response = resp(status, None, headers=[("Content-Type", "text/html; charset=utf-8")])
    response.body = Body.of(html.encode())
    return response


def test_a_fragment_response_to_the_requested_uri_is_no_open_redirect():
    """Implicit/hybrid: `302 redirect_uri#access_token=…` (Multiple Response Type Encoding §2.1). The token in the
    fragment is token-in-location at its base severity, and no value of the response is shown anywhere."""
    answer = resp(302, "https://rp.example/cb#access_token=s3cret-at&state=st4te&token_type=Bearer")
    found, _ = audit(*login(answer, response_type="token"))
    assert "open-redirect" not in found
    (token,) = found["token-in-location"]
    assert token.severity == "medium" and token.evidence["location_fragment_tokens"] == ["access_token"]
    text = json.dumps([f.record() for findings in found.values() for f in findings])
    assert "s3cret-at" not in text and "st4te" not in text


def test_a_query_response_to_another_url_is_a_mismatch_not_an_open_redirect():
    found, _ = audit(*login(resp(302, "https://rp.example.attacker.net/cb?code=c0de&state=st4te")))
    assert "oauth-redirect-uri-mismatch" in found
    assert "open-redirect" not in found


def test_a_form_post_response_is_followed_like_a_redirect():
    form = ('<html><body onload="document.forms[0].submit()"><form method="post" action="{action}">'
            '<input type="hidden" name="code" value="c0de-fp"><input type="hidden" name="state" value="st4te">'
            "</form></body></html>")  # fmt: skip
    asked = "&response_mode=form_post"
    same, _ = audit(*login(page(form.format(action="https://rp.example/cb")), extra=asked))
    assert not {rule for rule in same if rule.startswith("oauth-")}
    other, _ = audit(*login(page(form.format(action="https://rp.example/other")), extra=asked))
    (mismatch,) = other["oauth-redirect-uri-mismatch"]
    assert mismatch.stage == "flow" and mismatch.oauth_flow == "rp-302"


def test_every_finding_of_a_login_names_its_flow():
    """The weak authorization request (on the relying party's 302) and the response sent elsewhere (on the server's
    answer) belong to the same login: the flow id where its authorization request was first seen."""
    weak = "https://as.example/authorize?response_type=code&client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb"
    found, _ = audit(
        (req(url="https://rp.example/login", flow_id="rp-302"), resp(302, weak)),
        (req(url=weak, flow_id="as-answer"), resp(302, "https://rp.example/other?code=c0de")),
    )
    assert found["oauth-authorization-request-weak"][0].oauth_flow == "rp-302"
    assert found["oauth-redirect-uri-mismatch"][0].oauth_flow == "rp-302"
    assert found["not-followed"][0].oauth_flow == "rp-302"  # the server's answer nobody followed: the same login


def test_a_token_request_answered_307_to_another_origin_re_sends_its_secrets():
    body = b"grant_type=authorization_code&code=c0de&client_secret=cl1ent-s3cret&code_verifier=v3rifier"
    found, _ = audit(
        (req("POST", "https://as.example/token", body=body, headers=[FORM]), resp(307, "https://evil.example/t")),
    )
    (finding,) = found["credential-post-307"]
    assert set(finding.evidence["original_body_credentials"]) == {"form:client_secret", "form:code_verifier"}


def test_a_saml_response_to_a_foreign_relaystate_is_not_also_an_open_redirect():
    body = b"SAMLResponse=PHNhbWw%2B&RelayState=https%3A%2F%2Fevil.example%2Fx"
    found, _ = audit(
        (req("POST", "https://sp.example/acs", body=body, headers=[FORM]), resp(302, "https://evil.example/x"))
    )
    assert "saml-relaystate-open-redirect" in found and "open-redirect" not in found


def test_open_flows_are_bounded_per_client_and_expire():
    flows = oauth.Flows(SecretPolicy(), timeout=60)
    for n in range(500):
        request = req(url=AUTHORIZE.format(type="code", extra=f"&n={n}").replace("st4te", f"s{n}"), time=n * 0.01)
        flows.request(request, urls.parse(request.url))
    assert flows.open == oauth.MAX_FLOWS_PER_CLIENT
    late = req(url="https://elsewhere.example/", time=1000.0)
    flows.request(late, urls.parse(late.url))
    assert flows.open == 0


def test_the_html_report_draws_each_login_as_a_sequence():
    from redirect_audit.reports import html
    from redirect_audit.reports.session import Session

    auditor = Auditor(RULES)
    session = Session(auditor, write_line=lambda line: None)
    exchanges = login(resp(302, "https://rp.example/other?code=c0de-html&state=st4te"))
    for n, (request, response) in enumerate(exchanges):
        request.time, response.time = float(n), n + 0.5
    for batch in auditor.audit(exchanges):
        session.emit(batch)
    page = html.page(session)
    (login_id,) = session.logins.logins
    assert f'data-login="{login_id}"' in page and "oauth-redirect-uri-mismatch" in page
    names = [step.name for step in session.logins.logins[login_id].steps]
    # one row per exchange: the relying party's redirect, then the server's answer, followed by nobody
    assert names == ["redirect", "follow-up, authorization request answered, authorization response, not followed"]
    assert "c0de-html" not in page and "st4te" not in page
