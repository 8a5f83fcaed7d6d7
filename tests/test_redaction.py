"""No secret in any output, however a URL spells it: a `;` inside a secret value, a URL with a token inside a
parameter value (raw, encoded once or twice), and userinfo in every spelling a WHATWG parser reads one in. The
fingerprint a redacted URL shows is the one credential extraction takes of the same value."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
from urllib.parse import parse_qsl, quote

import ada_url
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import io

from redirect_audit.auditor import Auditor
from redirect_audit.engine import params
from redirect_audit.engine.secrets import SecretPolicy, credentials_of, redact_url
from redirect_audit.rules.pack import RuleSet

from .exchanges import req, resp
from .harness.process import ProxyProcess
from .rawhttp import exchange

POLICY = SecretPolicy()
RAW_LOCATION_RULE = """rules:
  - id: raw-location
    title: Every Location as sent
    severity: info
    on: response
    description: A user rule that reads the raw Location, so that it is written in every finding.
    when: {location_raw: {ne: null}}
"""


def audit(rules: RuleSet, *steps, finish: bool = True) -> list[dict]:
    """Feed (request, response-or-None) steps to an auditor; every finding's record, the not-followed ones too."""
    auditor, records = Auditor(rules, policy=POLICY), []
    for t, (request, response) in enumerate(steps):
        request.time = float(t)
        records += [f.record() for f in auditor.request(request)]
        if response is not None:
            response.time = t + 0.5
            records += [f.record() for f in auditor.response(request, response)]
    if finish:
        records += [f.record() for f in auditor.finish(100.0)]
    return records


@pytest.fixture(scope="module")
def user_rules(tmp_path_factory) -> RuleSet:
    path = tmp_path_factory.mktemp("rules") / "raw-location.yaml"
    path.write_text(RAW_LOCATION_RULE)
    return RuleSet.load([path])


def test_a_semicolon_inside_a_secret_value_is_redacted_whole(user_rules):
    location = "http://b.example/land?access_token=abc;TAIL-1&lang=s#id_token=xyz;TAIL-2&x=1"
    records = audit(user_rules, (req("GET", "http://a.example/login?password=pw;TAIL-3"), resp(302, location)))
    assert {"token-in-location", "raw-location", "not-followed"} <= {r["rule"] for r in records}
    written = json.dumps(records)
    assert "TAIL" not in written
    # the fingerprint shown is the one credential extraction takes: the value up to `&`, `;` included
    shown = credentials_of(req("GET", "http://a.example/login?password=pw;TAIL-3"), POLICY).query["query:password"]
    assert f"password=redacted:{shown.removeprefix('hmac:')}" in written
    assert redact_url(location, POLICY) == (
        f"http://b.example/land?access_token=redacted:{POLICY.fingerprint('abc;TAIL-1')[5:]}&lang=s"
        f"#id_token=redacted:{POLICY.fingerprint('xyz;TAIL-2')[5:]}&x=1"
    )


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab=&;%+2F3D é\x01\ud800", max_size=40))
def test_the_tokenizer_reads_a_query_as_parse_qsl_does(query):
    assert params.pairs(query) == parse_qsl(query, keep_blank_values=True)


NESTED = "http://b.example/cb?access_token=NESTED-SECRET"
NESTED_SPELLINGS = {  # the parameter's value, as the request writes it: the server redirects to NESTED
    "raw": NESTED,
    "encoded": quote(NESTED, safe=""),
    "encoded twice": quote(quote(NESTED, safe=""), safe=""),
    "partly encoded": NESTED.replace("?", "%3F").replace("=", "%3D"),
    "raw, encoded inside": NESTED.replace("=", "%253D"),
}


@pytest.mark.parametrize("spelling", NESTED_SPELLINGS.values(), ids=NESTED_SPELLINGS)
def test_a_secret_in_a_url_inside_a_parameter_is_redacted(spelling):
    """An open redirect to a URL that carries a token: the token is in the request URL (open-redirect,
    token-in-location) and, unfollowed, in not-followed; in none of them in clear."""
    records = audit(RuleSet.load(), (req("GET", f"http://a.example/go?next={spelling}&tag=1"), resp(302, NESTED)))
    assert {"open-redirect", "token-in-location", "not-followed"} <= {r["rule"] for r in records}
    written = json.dumps(records)
    assert "NESTED-SECRET" not in written and "redacted:" in written
    assert {r["redirect_url"].split("&")[-1] for r in records} == {"tag=1"}  # the URL around it kept its shape


@pytest.mark.parametrize(
    "target",
    ["http://alice:NESTED-SECRET@b.example/cb", "http://b.example/cb#access_token=NESTED-SECRET",
     "http://b.example/cb?access_token=NESTED-SECRET%26TAIL", "http://b.example/cb?x=1&access_token=NESTED-SECRET"],
)  # fmt: skip
def test_userinfo_fragments_and_tails_of_nested_urls_are_redacted(target):
    for value in (quote(target, safe=""), quote(quote(target, safe=""), safe="")):
        shown = redact_url(f"http://a.example/go?next={value}&tag=1", POLICY)
        assert "NESTED-SECRET" not in shown and "TAIL" not in shown and shown.endswith("&tag=1"), shown


@pytest.mark.parametrize(
    "url",
    ["http://a.example/?a=1;access_token=SEMI-SECRET;x=2&b=2", "http://a.example/?;password=SEMI-SECRET",
     "http://a.example/?x;id_token=SEMI-SECRET&y=1", "http://a.example/#state=s;access_token=SEMI-SECRET"],
)  # fmt: skip
def test_where_servers_split_on_semicolons_too_their_reading_is_redacted(url):
    """`&` is the separator, but some servers split on `;` as well: what they read as a secret is redacted too."""
    shown = redact_url(url, POLICY)
    assert "SEMI-SECRET" not in shown and shown.count("redacted:") == 1, shown


def test_tabs_and_newlines_a_browser_drops_hide_nothing():
    for url in ("http://a.example/?access_to\tken=TAB-SECRET", "ht\ttp://alice:TAB-SECRET@h/",
                "http://a.example/?n=http%3A%2F%2Fb%2F%3Faccess_token%3\tDTAB-SECRET"):  # fmt: skip
        assert "TAB-SECRET" not in redact_url(url, POLICY), url


def test_a_nested_url_without_secrets_is_left_as_written():
    url = "http://a.example/go?next=http%3A%2F%2Fb.example%2Fcb%3Flang%3Ds&tag=1"
    assert redact_url(url, POLICY) == url


ISSUE_SPELLINGS = ["//alice:UI-SECRET@evil.example/", "http:\\\\alice:UI-SECRET@evil.example/",
                   "https:alice:UI-SECRET@evil.example/", "http://alice:UI-SECRET@x@evil.example/",
                   "http://alice:UI@SECRET@evil.example/"]  # fmt: skip


@pytest.mark.parametrize("location", ISSUE_SPELLINGS)
def test_a_user_rule_on_the_raw_location_never_prints_userinfo(user_rules, location):
    records = audit(user_rules, (req("GET", "http://a.example/start"), resp(302, location)))
    assert "raw-location" in {r["rule"] for r in records}
    written = json.dumps(records)
    assert "UI-SECRET" not in written and "SECRET@" not in written, written


PREFIXES = ["", " ", "\x01", "\t"]
SCHEMES = ["", "http:", "https:", "HTTP:", "ht\ttp:", "ws:", "ftp:", "foo:"]
SLASHES = ["", "/", "//", "\\\\", "/\\", "\\/", "///", "/\t/"]
USERINFO = ["USERX:PASSX", "USERX", ":PASSX", "USERX:PA@SSX", "USERX:PASSX@Y"]
TAILS = ["", "/p", "\\p", "?q=1", "#f", ":8080/p"]


@pytest.mark.parametrize("base", ["http://a.example/dir/page", "https://a.example/"])
def test_no_spelling_a_browser_reads_userinfo_in_leaks_it(base):
    """Every combination of leading junk, scheme, slashes, userinfo and what follows the host: where the WHATWG
    parser (ada, as browsers) finds a user name or password, the redacted text holds neither."""
    checked = 0
    for prefix, scheme, slashes, userinfo, tail in itertools.product(PREFIXES, SCHEMES, SLASHES, USERINFO, TAILS):
        text = f"{prefix}{scheme}{slashes}{userinfo}@host.example{tail}"
        try:
            parsed = ada_url.URL(text, base)
        except ValueError:
            continue
        secrets = [part for part in ("USERX", "PASSX", "PA", "SSX") if part in parsed.username + parsed.password]
        if secrets:
            checked += 1
            shown = redact_url(text, POLICY)
            assert not [part for part in secrets if part in shown], (text, shown)
    assert checked > 500


def test_redacting_hostile_urls_is_linear():
    """The URL-redaction pattern restarted at every `?` of a long run: 64,000 of them took 17 s. The one kind of
    timed assertion here, a generous bound: linear code takes a fraction of a second, quadratic code hours."""
    hostile = ["http://a.example/" + "?" * 1_000_000, "http://a.example/?" + "a=%3F&" * 200_000,
               "http://" + "u:p@" * 250_000 + "h/", "http:" + "\\" * 1_000_000 + "u:p@h",
               "http://a.example/?next=" + "%253Faccess_token%253D" * 50_000]  # fmt: skip
    start = time.perf_counter()
    shown = [redact_url(url, POLICY) for url in hostile]
    assert time.perf_counter() - start < 10
    assert "u:p@" not in shown[2] + shown[3] and "access_token%253D" not in shown[4]


def test_no_secret_in_any_output_of_a_real_proxy(upstream, tmp_path):
    """A real `redirect-audit proxy --block-on high` with a user rule on the raw Location, reporting to JSON Lines,
    HTML and a saved flow file; a raw client. The 403 pages, the report, the console, the HTML report and the
    flows' comments and metadata hold no secret."""
    rules = tmp_path / "raw-location.yaml"
    rules.write_text(RAW_LOCATION_RULE)
    saved, html = tmp_path / "session.mitm", tmp_path / "report.html"
    other = upstream.origins[1]
    host = other.removeprefix("http://")
    nested = f"{other}/cb?access_token=SECRET-NESTED-{{}}&state=s"

    def redirect(location: str, query: str = "") -> str:  # the upstream answers `Location: <to>`
        return upstream.url(f"/redirect?status=302&to={quote(location, safe='')}{query}")

    blocked_cases = [  # token-in-location is high to plain http: the 3xx is replaced by a 403 page
        redirect(f"{other}/land?access_token=abc;SECRET-TAIL"),
        redirect(nested.format(1), f"&next={nested.format(1)}"),
        redirect(nested.format(2), f"&next={quote(nested.format(2), safe='')}"),
        redirect(nested.format(3), f"&next={quote(quote(nested.format(3), safe=''), safe='')}"),
    ]
    logged_cases = [  # not blocked: their findings are written, and at the end they are not-followed
        redirect(f"{other}/landing", f"&next={quote(nested.format(4), safe='')}"),
        redirect(f"//alice:SECRET-UI-1@{host}/"),
        redirect(f"http:\\\\alice:SECRET-UI-2@{host}/"),
        redirect(f"http://alice:SECRET-UI-3@x@{host}/"),
    ]
    proxy = ProxyProcess.cli(tmp_path, "--block-on", "high", "--rules", str(rules), "--save", str(saved),
                             "--html", str(html), follow_timeout="60")  # fmt: skip
    try:
        answers = asyncio.run(_get_all(proxy.port, blocked_cases + logged_cases))
    finally:
        proxy.stop(signal.SIGINT)
    assert [a.status for a in answers] == [403] * len(blocked_cases) + [302] * len(logged_cases)
    rules_fired = {record["rule"] for record in proxy.findings()}
    assert {"token-in-location", "open-redirect", "raw-location", "not-followed", "location-confusing"} <= rules_fired
    flows = list(io.FlowReader(saved.open("rb")).stream())
    written = {
        "403 pages": "\n".join(a.body.decode() for a in answers if a.status == 403),
        "report": proxy.report.read_text(),
        "console": proxy.output,
        "HTML report": html.read_text(),
        "flow annotations": json.dumps([[f.comment, f.metadata.get("redirect_audit", [])] for f in flows]),
    }
    assert "redacted:" in written["403 pages"]
    for where, text in written.items():
        assert "SECRET" not in text, f"a secret in the {where}: {text[text.find('SECRET') - 80 :][:160]}"


async def _get_all(port: int, urls: list[str]):
    return [await exchange(port, "GET", url) for url in urls]
