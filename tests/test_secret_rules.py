"""Every secrets rule on the engine and the default pack: a scenario that fires it and a near miss that does not."""

from __future__ import annotations

import json

import pytest

from redirect_audit.auditor import Auditor
from redirect_audit.engine.model import Body
from redirect_audit.engine.secrets import SecretPolicy, credentials_of
from redirect_audit.rules.pack import RuleSet

from .exchanges import req, resp

RULES = RuleSet.load()
FORM = ("Content-Type", "application/x-www-form-urlencoded")
JSON = ("Content-Type", "application/json")
IDP, CLIENT = "https://idp.example.com", "https://app.example.net"


def audit(*steps, block_on=None, live=False):
    """Feed (request, response-or-None) steps; returns {rule: [findings]}."""
    auditor = Auditor(RULES, block_on=block_on)
    found = {}
    for t, (request, response) in enumerate(steps):
        request.time = float(t)
        for finding in auditor.request(request, live=live):
            found.setdefault(finding.rule, []).append(finding)
        if response is not None:
            response.time = t + 0.5
            for finding in auditor.response(request, response, live=live):
                found.setdefault(finding.rule, []).append(finding)
    return found


LOGIN = b"username=alice&password=hunter2"


def login_307(target, status=307, body=LOGIN, method="POST"):
    return [
        (req(method, f"{IDP}/login", body=body, headers=[FORM]), resp(status, target)),
        (req(method if status in (307, 308) else "GET", target,
             body=body if status in (307, 308) else b"", headers=[FORM] if status in (307, 308) else []),
         resp(200, None)),
    ]  # fmt: skip


def test_authorization_after_a_round_trip_counts():
    """Fetch drops Authorization at the first cross-origin hop for good: A -> B -> A still leaks."""
    token = [("Authorization", "Bearer T")]
    found = audit(
        (req("GET", f"{IDP}/1", headers=token, flow_id="a1"), resp(302, f"{CLIENT}/2")),
        (req("GET", f"{CLIENT}/2", flow_id="b"), resp(302, f"{IDP}/3")),  # client stripped it here
        (req("GET", f"{IDP}/3", headers=token, flow_id="a2"), None),  # and restored it: a leak
    )
    assert "authorization-cross-origin" not in found  # hop 2's original had no Authorization to forward
    found = audit(
        (req("GET", f"{IDP}/1", headers=token), resp(302, f"{CLIENT}/2")),
        (req("GET", f"{CLIENT}/2", headers=token), resp(302, f"{IDP}/3")),
        (req("GET", f"{IDP}/3", headers=token), None),
    )
    hops = sorted(f.chain["hop"] for f in found["authorization-cross-origin"])
    assert hops == [1, 2]  # B got it, and so did A on the way back


HTTP_IDP = "http://idp.example.com"
HTTPS_ENFORCEMENT = [
    (req("POST", f"{HTTP_IDP}/login", body=LOGIN, headers=[FORM]), resp(307, f"{IDP}/login")),
    (req("POST", f"{IDP}/login", body=LOGIN, headers=[FORM]), resp(200, None)),
]


def test_https_enforcement_is_no_leak_but_the_credentials_crossed_in_clear():
    found = audit(*HTTPS_ENFORCEMENT)
    assert set(found) == {"credentials-before-upgrade"}
    assert found["credentials-before-upgrade"][0].severity == "medium"
    assert not audit(*HTTPS_ENFORCEMENT, block_on="high", live=True).get("credential-post-307")


@pytest.mark.parametrize(
    "steps",
    [
        [
            (
                req("POST", "http://127.0.0.1:8080/login", body=LOGIN, headers=[FORM]),
                resp(307, "https://127.0.0.1:8080/login"),
            )
        ],
        [(req("POST", f"{HTTP_IDP}/login", body=b"q=1", headers=[FORM]), resp(307, f"{IDP}/login"))],
        [(req("POST", f"{HTTP_IDP}/login", body=LOGIN, headers=[FORM]), resp(307, f"{IDP}/elsewhere"))],
        [
            (
                req("POST", f"{HTTP_IDP}/login", body=LOGIN, headers=[FORM]),
                resp(307, "https://idp.example.com:8443/login"),
            )
        ],
    ],
    ids=["loopback", "no-credentials", "another-path", "another-port"],
)
def test_credentials_before_upgrade_near_misses(steps):
    assert "credentials-before-upgrade" not in audit(*steps)


def test_an_upgrade_to_another_port_is_another_origin():
    steps = [
        (req("POST", f"{HTTP_IDP}/login", body=LOGIN, headers=[FORM]), resp(307, "https://idp.example.com:8443/x"))
    ]
    assert "credential-post-307" in audit(*steps)


def test_a_client_that_upgrades_itself_forwards_nothing():
    """HSTS in the client: `Location: http://same-host/next` followed over https to the same server."""
    found = audit(
        (req("POST", f"{HTTP_IDP}/login", body=LOGIN, headers=[FORM]), resp(307, f"{HTTP_IDP}/next")),
        (req("POST", f"{IDP}/next", body=LOGIN, headers=[FORM]), resp(200, None)),
    )
    assert "credentials-forwarded" not in found


def cookie_hop(target):
    return [
        (req("GET", "https://a.example.test/a", headers=[("Cookie", "sid=s3cr3t")]), resp(302, f"{target}/x")),
        (req("GET", f"{target}/x", headers=[("Cookie", "sid=s3cr3t")]), None),
    ]


def test_a_cookie_of_unknown_scope_is_low_on_the_same_site_and_high_on_another():
    (same_site,) = audit(*cookie_hop("https://b.example.test"))["cookie-cross-origin"]
    assert same_site.severity == "low"
    assert same_site.evidence == {"cookies_out_of_scope": [], "cookies_scope_unknown": ["sid"]}
    (cross_site,) = audit(*cookie_hop("https://c.other.test"))["cookie-cross-origin"]
    assert cross_site.severity == "high" and cross_site.evidence["cookies_out_of_scope"] == ["sid"]


def test_a_cookie_seen_set_for_its_host_only_is_out_of_scope_on_the_same_site():
    found = audit(
        (req("GET", "https://a.example.test/login"), resp(200, None, headers=[("Set-Cookie", "sid=s3cr3t")])),
        *cookie_hop("https://b.example.test"),
    )
    assert found["cookie-cross-origin"][0].severity == "high"
    seen_for_the_site = audit(
        (req("GET", "https://a.example.test/login"),
         resp(200, None, headers=[("Set-Cookie", "sid=s3cr3t; Domain=example.test")])),
        *cookie_hop("https://b.example.test"),
    )  # fmt: skip
    assert "cookie-cross-origin" not in seen_for_the_site


def test_escalations():
    downgrade = audit((req("GET", f"{IDP}/a"), resp(301, "http://idp.example.com/a")))
    assert downgrade["https-downgrade"][0].severity == "medium"
    with_secret = audit(
        (req("POST", f"{IDP}/login", body=LOGIN, headers=[FORM]), resp(302, "http://idp.example.com/a"))
    )
    assert with_secret["https-downgrade"][0].severity == "high"
    same_site = audit((req("GET", f"{IDP}/x"), resp(302, f"{IDP}/cb?access_token=tok")))
    cross_site = audit((req("GET", f"{IDP}/x"), resp(302, f"{CLIENT}/cb?access_token=tok")))
    assert same_site["token-in-location"][0].severity == "medium"
    assert cross_site["token-in-location"][0].severity == "high"


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("//evil.example/", "protocol-relative"),
        ("/\\evil.example", "backslash"),
        ("/a\tb", "control-characters"),
        ("http:evil.example", "scheme-without-slashes"),
        ("https://idp.example.com@evil.example/", "userinfo"),
        ("/\\evil.example", "parsers-disagree"),
        ("/caf\udce9", "not-utf8"),
    ],
)
def test_location_confusing_reasons(location, reason):
    found = audit((req("GET", f"{IDP}/a"), resp(302, location)))
    assert reason in found["location-confusing"][0].evidence["location_confusing"]


@pytest.mark.parametrize(
    ("query", "weakness"),
    [
        ("response_type=code&client_id=c", "no-state-or-pkce"),
        ("response_type=code&client_id=c&code_challenge=x", "pkce-plain"),
        ("response_type=token&client_id=c&state=s", "implicit-grant"),
        ("response_type=code&client_id=c&state=s&redirect_uri=http%3A%2F%2Fapp.example%2Fcb", "http-redirect-uri"),
    ],
)
def test_oauth_weaknesses(query, weakness):
    found = audit((req("GET", f"{CLIENT}/login"), resp(302, f"{IDP}/authorize?{query}")))
    assert found["oauth-authorization-request-weak"][0].evidence["oauth_weaknesses"] == [weakness]


def test_loopback_http_redirect_uri_is_fine():
    query = "response_type=code&client_id=c&state=s&redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fcb"
    assert "oauth-authorization-request-weak" not in audit(
        (req("GET", f"{CLIENT}/login"), resp(302, f"{IDP}/authorize?{query}"))
    )


def test_open_redirect_decoded_twice():
    twice = "https%253A%252F%252Fevil.example%252F"
    found = audit((req("GET", f"{IDP}/go?returnTo={twice}"), resp(302, "https://evil.example/")))
    assert found["open-redirect"][0].evidence["location_from_parameter"] == "returnTo"


POLICY = SecretPolicy()


@pytest.mark.parametrize(
    ("content_type", "body", "places"),
    [
        ("application/x-www-form-urlencoded", b"user=a&Password=x&pin=1", ["form:Password", "form:pin"]),
        ("application/json", b'{"user": {"password": "x", "otp": 123}, "list": [{"api_key": "k"}]}',
         ["json:list[0].api_key", "json:user.otp", "json:user.password"]),
        ("multipart/form-data; boundary=XyZ",
         b'--XyZ\r\nContent-Disposition: form-data; name="client_secret"\r\n\r\ns3\r\n--XyZ--\r\n',
         ["multipart:client_secret"]),
        ("text/plain", b"password=x", []),
    ],
)  # fmt: skip
def test_credential_fields_found_by_name(content_type, body, places):
    found = credentials_of(req("POST", "https://a.example/?access_token=t", body=body,
                               headers=[("Content-Type", content_type)]), POLICY)  # fmt: skip
    assert sorted(found.body) == places
    assert list(found.query) == ["query:access_token"]
    assert not found.unparsed


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"password": '),
        ("application/json", b"[" * 5000),
        ("multipart/form-data", b"--x\r\n"),
        ("application/json", b"\xff\xfe"),
    ],
)
def test_malformed_bodies_are_unparsed_not_a_crash(content_type, body):
    found = credentials_of(req("POST", body=body, headers=[("Content-Type", content_type)]), POLICY)
    assert found.unparsed and not found.body


def test_large_and_streamed_bodies_are_unparsed():
    small = SecretPolicy(max_parse_bytes=10)
    big = credentials_of(req("POST", body=b"password=0123456789", headers=[FORM]), small)
    streamed = credentials_of(req("POST", body=Body(None), headers=[FORM]), POLICY)
    assert big.unparsed and streamed.unparsed


def test_block_mode_marks_live_findings_only():
    live = audit(*login_307(f"{CLIENT}/cb"), block_on="high", live=True)
    assert live["credential-post-307"][0].action == "blocked"
    assert "credentials-forwarded" not in live  # the 307 was replaced: nothing to follow
    recorded = audit(*login_307(f"{CLIENT}/cb"), block_on="high", live=False)
    assert recorded["credential-post-307"][0].action == "logged"
    assert recorded["credentials-forwarded"][0].action == "logged"


def test_redaction_in_findings():
    secret = "Zq-very-secret-91"
    found = audit(
        (req("POST", f"{IDP}/login?password={secret}", body=f"password={secret}".encode(), headers=[FORM]),
         resp(307, f"{CLIENT}/cb?access_token={secret}")),
        (req("POST", f"{CLIENT}/cb?access_token={secret}", body=f"password={secret}".encode(), headers=[FORM]),
         None),
    )  # fmt: skip
    assert {"credentials-forwarded", "token-in-location", "credential-post-307"} <= set(found)
    text = json.dumps([f.record() for findings in found.values() for f in findings])
    assert secret not in text
    assert "password=redacted:" in text and "access_token=redacted:" in text


def test_an_ambiguous_pairing_blocks_only_what_holds_for_every_candidate():
    """Two redirects of one client to one target, nothing to tell them apart: the oldest is taken, and a verdict
    that depends on that choice is logged, not blocked."""
    auditor = Auditor(RULES, block_on="high")
    token = [("Authorization", "Bearer T")]
    for n, (request, status) in enumerate(
        [
            (req("POST", f"{IDP}/api", body=b"{}", headers=[JSON, *token]), 307),
            (req("GET", f"{IDP}/page", headers=token), 302),
        ]
    ):
        request.time = float(n)
        auditor.response(request, resp(status, f"{CLIENT}/target", time=n + 0.5), live=True)
    findings = auditor.request(req("GET", f"{CLIENT}/target", headers=token, time=2.0), live=True)
    by_rule = {f.rule: f for f in findings}
    assert {f.pairing for f in findings} == {"ambiguous"}
    assert by_rule["method-changed"].action == "logged"  # the GET's own 302 would make it clean
    assert by_rule["authorization-cross-origin"].action == "blocked"  # either way, the token leaves


def test_an_upgrade_of_the_same_host_carries_no_header_to_another_origin():
    """HTTPS enforcement of a GET with Authorization and an API key: the same server gets them again, over TLS.
    Only that they crossed the network in clear is reported."""
    headers = [("Authorization", "Bearer T"), ("X-API-Key", "k-1")]
    found = audit(
        (req("GET", f"{HTTP_IDP}/api", headers=headers), resp(301, f"{IDP}/api")),
        (req("GET", f"{IDP}/api", headers=headers), resp(200, None)),
    )
    assert set(found) == {"credentials-before-upgrade"}
