"""Facts: the named values rules test. Computed once per 3xx and once per follow-up.

`CATALOG` is the single list of facts: the rule loader validates conditions against it, and
`redirect-audit rules facts` prints it. Adding a fact means adding it here and computing it below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import location, urls
from .model import Body, Request, Response, header
from .secrets import CookieJar, Credentials, SecretPolicy, credentials_of, form_pairs

STAGES = ("response", "followup", "no-followup")
_ALL = frozenset(STAGES)
_FOLLOWUP = frozenset({"followup"})

MAX_REDIRECTS = 20  # WHATWG Fetch's redirect limit
URL_FACTS = frozenset({"redirect_url", "location", "location_raw", "followup_url"})  # redacted in every output
CONTENT_HEADERS = ("content-type", "content-encoding", "content-language", "content-location", "digest")


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    kind: str  # int | number | str | bool | enum | list
    stages: frozenset[str]
    doc: str
    values: tuple[str, ...] = ()  # the allowed values of an enum
    nullable: bool = False
    case_sensitive: bool = False  # a list whose items `contains` compares exactly (cookie names); else any case

    @property
    def type_name(self) -> str:
        """The type as the reference shows it: `str or null`, `list (case-insensitive)`."""
        if self.kind == "list":
            return f"list ({'case-sensitive' if self.case_sensitive else 'case-insensitive'})"
        return f"{self.kind}{' or null' if self.nullable else ''}"


CATALOG: dict[str, Fact] = {
    fact.name: fact
    for fact in (
        Fact("status", "int", _ALL, "Status code of the redirect response (301, 302, 303, 307, 308)."),
        Fact("original_method", "str", _ALL, "Method of the request that was answered with the 3xx."),
        Fact("redirect_url", "str", _ALL, "URL of the request that was answered with the 3xx."),
        Fact("redirect_host", "str", _ALL, "Host of `redirect_url`."),
        Fact("location_raw", "str", _ALL, "The first Location header exactly as sent.", nullable=True),
        Fact("location_count", "int", _ALL, "How many Location headers the response carried."),
        Fact(
            "location_state",
            "enum",
            _ALL,
            "`ok`; `missing` (no Location); `invalid` (a browser cannot resolve it); "
            "`non-http` (resolves to a scheme other than http/https).",
            ("ok", "missing", "invalid", "non-http"),
        ),
        Fact(
            "location",
            "str",
            _ALL,
            "Location resolved against `redirect_url` as a browser does (WHATWG URL).",
            nullable=True,
        ),
        Fact("location_host", "str", _ALL, "Host of `location`.", nullable=True),
        Fact(
            "origin_relation",
            "enum",
            _ALL,
            "`redirect_url` to `location`: `same-origin`, `same-site` (same scheme and registrable "
            "domain, by the public-suffix list) or `cross-site`.",
            ("same-origin", "same-site", "cross-site"),
            nullable=True,
        ),
        Fact(
            "scheme_change",
            "enum",
            _ALL,
            "`redirect_url` to `location`: `none`, `upgrade` (http to https), `downgrade` (https to http) or `other`.",
            ("none", "upgrade", "downgrade", "other"),
            nullable=True,
        ),
        Fact(
            "original_body",
            "enum",
            _ALL,
            "Body of the original request: `none`, `present`, or `unknown` (streamed, not seen).",
            ("none", "present", "unknown"),
        ),
        Fact("original_body_length", "int", _ALL, "Length of the original body; null if unknown.", nullable=True),
        Fact("chain_length", "int", _ALL, "Number of this redirect in its chain (1 for the first)."),
        Fact(
            "too_many_redirects",
            "bool",
            _ALL,
            f"True on the redirect that takes a chain past {MAX_REDIRECTS} redirects (Fetch's limit).",
        ),
        Fact(
            "original_body_credentials",
            "list",
            _ALL,
            "Credential fields in the original body, by place: `form:password`, `json:user.password`, "
            "`multipart:pin` (names from the secret-field list).",
        ),
        Fact("original_query_credentials", "list", _ALL, "Credential fields in the original URL's query: `query:otp`."),
        Fact(
            "original_credential_headers",
            "list",
            _ALL,
            "Credential headers on the original request: `authorization`, `proxy-authorization`, `cookie`, "
            "and the configured secret headers (lower-case names).",
        ),
        Fact(
            "credentials_unparsed",
            "bool",
            _ALL,
            "The original body might hold credentials but could not be read: past the parse budget (once its "
            "Content-Encoding is undone), malformed, or in an encoding that is not decoded.",
        ),
        Fact(
            "chain_carried_secrets",
            "bool",
            _ALL,
            "Some request of the chain so far carried credential fields or credential headers.",
        ),
        Fact(
            "redirect_loopback",
            "bool",
            _ALL,
            "The host of `redirect_url` is a loopback one (localhost, 127.0.0.0/8, ::1): plain http to it never "
            "crosses a network.",
        ),
        Fact(
            "upgrade_same_host",
            "bool",
            _ALL,
            "The Location takes `redirect_url` from http to https on the same host, with default ports or the same "
            "port (HTTPS enforcement): what the client sends next goes to the same server, over TLS.",
        ),
        Fact(
            "upgrade_same_url",
            "bool",
            _ALL,
            "`upgrade_same_host`, and the path and query stay the same: the redirect upgrades the very URL.",
        ),
        Fact(
            "redirect_loop",
            "bool",
            _ALL,
            "True on the first redirect that answers a request its chain already made: the chain came back and "
            "was redirected again, a cycle (coming back once and getting an answer is not a loop).",
        ),
        Fact(
            "location_scheme",
            "str",
            _ALL,
            "Scheme of `location` without the colon (`https`, `javascript`).",
            nullable=True,
        ),
        Fact(
            "location_confusing",
            "list",
            _ALL,
            "Why the Location may read differently in browsers and RFC 3986 resolvers, or hide its host: "
            "`protocol-relative`, `backslash`, `control-characters`, `scheme-without-slashes`, `userinfo`, "
            "`parsers-disagree`, `not-utf8` (bytes that are not UTF-8, which browsers read differently).",
        ),
        Fact(
            "location_from_parameter",
            "str",
            _ALL,
            "Name of the request parameter (query or form; from the redirect-parameter list) whose value, "
            "decoded once or twice, is the Location's target.",
            nullable=True,
        ),
        Fact("location_tokens", "list", _ALL, "Token or password parameters in the Location's query (names)."),
        Fact(
            "oauth_request",
            "bool",
            _ALL,
            "The Location is an OAuth authorization request (response_type and client_id in its query).",
        ),
        Fact(
            "oauth_weaknesses",
            "list",
            _ALL,
            "What RFC 9700 discourages in that request: `no-state-or-pkce`, `pkce-plain`, `implicit-grant`, "
            "`http-redirect-uri` (an http redirect_uri on a non-loopback host).",
        ),
        Fact("followup_method", "str", _FOLLOWUP, "Method of the client's follow-up request."),
        Fact("followup_url", "str", _FOLLOWUP, "URL of the follow-up request."),
        Fact("followup_host", "str", _FOLLOWUP, "Host of `followup_url`."),
        Fact("method_changed", "bool", _FOLLOWUP, "The follow-up's method differs from the original's."),
        Fact(
            "body_state",
            "enum",
            _FOLLOWUP,
            "Follow-up body against the original's: `none` (neither has one), `preserved` (same length "
            "and digest), `altered` (different), `dropped` (original had one, follow-up has none), "
            "`added` (only the follow-up has one), `unknown` (a body was streamed and not seen).",
            ("none", "preserved", "altered", "dropped", "added", "unknown"),
        ),
        Fact(
            "followup_body_length",
            "int",
            _FOLLOWUP,
            "Length of the follow-up's body; null if unknown.",
            nullable=True,
        ),
        Fact(
            "followup_content_headers",
            "list",
            _FOLLOWUP,
            "Content headers left on the follow-up: Content-Type, Content-Encoding, Content-Language, "
            "Content-Location, Digest, and Content-Length when it is not 0 (lower-case names).",
        ),
        Fact(
            "followup_upgraded",
            "bool",
            _FOLLOWUP,
            "The client followed an http Location over https to the same URL (as HSTS does).",
        ),
        Fact("followup_delay", "number", _FOLLOWUP, "Seconds between the 3xx and the follow-up."),
        Fact(
            "followup_origin_relation",
            "enum",
            _FOLLOWUP,
            "`redirect_url` to `followup_url`: `same-origin`, `same-site` or `cross-site`.",
            ("same-origin", "same-site", "cross-site"),
        ),
        Fact(
            "chain_left_origin",
            "bool",
            _FOLLOWUP,
            "This follow-up, or an earlier one in its chain, went to an origin other than the chain's first.",
        ),
        Fact(
            "credentials_forwarded",
            "list",
            _FOLLOWUP,
            "Credential fields of the original request whose values the follow-up sends again (places).",
        ),
        Fact(
            "authorization_forwarded",
            "bool",
            _FOLLOWUP,
            "The follow-up carries the original request's Authorization value.",
        ),
        Fact(
            "followup_upgrade_same_host",
            "bool",
            _FOLLOWUP,
            "`redirect_url` to `followup_url` is http to https on the same host, with default ports or the same "
            "port (the server's HTTPS enforcement, or the client's own upgrade, as HSTS does).",
        ),
        Fact(
            "cookies_out_of_scope",
            "list",
            _FOLLOWUP,
            "Cookies (names) of the original request that the follow-up sends to another host outside their scope: "
            "the shadow cookie jar saw their Set-Cookie and it does not cover that host, or it never saw one and "
            "the host is another site.",
            case_sensitive=True,
        ),
        Fact(
            "cookies_scope_unknown",
            "list",
            _FOLLOWUP,
            "Cookies (names) of the original request that the follow-up sends to another host of the same site "
            "(registrable domain), with no Set-Cookie seen to tell their scope: set before the proxy saw the "
            "client, perhaps for the whole site.",
            case_sensitive=True,
        ),
        Fact(
            "followup_proxy_authorization",
            "bool",
            _FOLLOWUP,
            "The follow-up carries a Proxy-Authorization header on to the origin server.",
        ),
        Fact(
            "secret_headers_forwarded",
            "list",
            _FOLLOWUP,
            "Configured secret headers (names) whose original value the follow-up sends again.",
        ),
    )
}


def _body_presence(body: Body) -> str:
    if body.length is None:
        return "unknown"
    return "present" if body.length else "none"


def credential_headers(credentials: Credentials) -> list[str]:
    names = [
        name
        for name, value in (
            ("authorization", credentials.authorization),
            ("proxy-authorization", credentials.proxy_authorization),
        )
        if value
    ]
    if credentials.cookies:
        names.append("cookie")
    return names + sorted(credentials.secret_headers)


def redirect_facts(
    request: Request,
    response: Response,
    chain_length: int,
    credentials: Credentials,
    chain_carried_secrets: bool,
    loop: bool,
    policy: SecretPolicy,
) -> dict[str, Any]:
    """Facts judged on a 3xx response alone."""
    origin = urls.parse(request.url)
    locations = response.locations
    raw = locations[0] if locations else None
    target = urls.resolve(request.url, raw) if raw is not None else None
    if raw is None:
        state = "missing"
    elif target is None:
        state = "invalid"
    elif not target.is_http:
        state = "non-http"
    else:
        state = "ok"
    related = origin is not None and target is not None
    upgrade = related and urls.same_host_upgrade(origin, target)
    http_target = target if state == "ok" else None
    oauth = location.oauth_weaknesses(http_target) if http_target else None
    return {
        "status": response.status,
        "original_method": request.method,
        "redirect_url": request.url,
        "redirect_host": origin.host if origin else "",
        "location_raw": raw,
        "location_count": len(locations),
        "location_state": state,
        "location": target.href if target else None,
        "location_host": target.host if target else None,
        "origin_relation": urls.origin_relation(origin, target) if related else None,
        "scheme_change": urls.scheme_change(origin, target) if related else None,
        "original_body": _body_presence(request.body),
        "original_body_length": request.body.length,
        "chain_length": chain_length,
        "too_many_redirects": chain_length == MAX_REDIRECTS + 1,
        "original_body_credentials": sorted(credentials.body),
        "original_query_credentials": sorted(credentials.query),
        "original_credential_headers": credential_headers(credentials),
        "credentials_unparsed": credentials.unparsed,
        "chain_carried_secrets": chain_carried_secrets,
        "redirect_loopback": origin is not None and urls.loopback(origin),
        "upgrade_same_host": upgrade,
        "upgrade_same_url": upgrade and _resource(origin) == _resource(target),
        "redirect_loop": loop,
        "location_scheme": target.scheme.rstrip(":") if target else None,
        "location_confusing": location.confusing(request.url, raw, target) if raw is not None else [],
        "location_from_parameter": (
            location.parameter_source(request.url, form_pairs(request, policy), http_target, policy.redirect_params)
            if http_target
            else None
        ),
        "location_tokens": location.tokens(http_target) if http_target else [],
        "oauth_request": oauth is not None,
        "oauth_weaknesses": oauth or [],
    }


def _resource(url: urls.Url) -> str:
    """A URL's key without its origin: the path and query a server is asked for."""
    return url.key.removeprefix(url.origin)


def body_state(original: Body, followup: Body) -> str:
    if original.length is None or followup.length is None:
        return "unknown"
    if not original.length:
        return "added" if followup.length else "none"
    if not followup.length:
        return "dropped"
    if original.length != followup.length:
        return "altered"
    before, after = original.digest(), followup.digest()
    if before is None or after is None:
        return "unknown"
    return "preserved" if before == after else "altered"


def content_headers_left(request: Request) -> list[str]:
    present = {name for name, _ in request.headers}
    left = [name for name in CONTENT_HEADERS if name in present]
    length = header(request.headers, "content-length")
    if length is not None and length.strip() not in ("", "0"):
        left.append("content-length")
    return left


@dataclass(slots=True)
class Original:
    """What a pending redirect remembers of its original request: sizes and fingerprints, no values."""

    facts: dict[str, Any]
    body: Body  # detached
    credentials: Credentials
    url: urls.Url | None  # the redirected request's
    time: float
    connection: str | None
    user_agent: str | None


def followup_facts(
    original: Original,
    followup: Request,
    url: urls.Url,
    upgraded: bool,
    chain_left_origin: bool,
    policy: SecretPolicy,
    jar: CookieJar,
) -> dict[str, Any]:
    """Facts of a 3xx paired with the client's follow-up (includes the redirect's own facts)."""
    redirect = original.facts
    before = original.credentials
    after = credentials_of(followup, policy) if before.any else Credentials()
    repeated = after.field_prints()
    origin = original.url
    cookies_out, cookies_unknown = [], []
    if origin is None or url.host != origin.host:
        same_site = origin is not None and urls.registrable_domain(origin) == urls.registrable_domain(url)
        https = url.scheme == "https:"
        for name, fingerprint in sorted(after.cookies.items()):
            if before.cookies.get(name) != fingerprint:
                continue
            scope = jar.scope(followup.client, name, url.host, https)
            if scope == "unknown" and same_site:
                cookies_unknown.append(name)
            elif scope != "in":
                cookies_out.append(name)
    return {
        **redirect,
        "followup_method": followup.method,
        "followup_url": followup.url,
        "followup_host": url.host,
        "method_changed": followup.method != redirect["original_method"],
        "body_state": body_state(original.body, followup.body),
        "followup_body_length": followup.body.length,
        "followup_content_headers": content_headers_left(followup),
        "followup_upgraded": upgraded,
        "followup_delay": round(max(0.0, followup.time - original.time), 3),
        "followup_origin_relation": urls.origin_relation(origin, url) if origin else "cross-site",
        "followup_upgrade_same_host": origin is not None and urls.same_host_upgrade(origin, url),
        "chain_left_origin": chain_left_origin,
        "credentials_forwarded": sorted(
            place for place, fingerprint in before.field_prints().items() if fingerprint in repeated.values()
        ),
        "authorization_forwarded": before.authorization is not None and after.authorization == before.authorization,
        "cookies_out_of_scope": cookies_out,
        "cookies_scope_unknown": cookies_unknown,
        "followup_proxy_authorization": header(followup.headers, "proxy-authorization") is not None,
        "secret_headers_forwarded": sorted(
            name for name, fingerprint in before.secret_headers.items() if after.secret_headers.get(name) == fingerprint
        ),
    }
