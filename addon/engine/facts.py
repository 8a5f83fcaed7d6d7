"""Facts: the named values rules test, each defined once — name, type, stages, description and how it is
computed, side by side below — and computed on demand.

An event's facts are a `Facts` mapping over its context (`Redirect`: a 3xx and its request; `Followup`: the
client's next request and what the pending redirect kept): a fact is computed the first time a rule's condition
(or the report) reads it, from typed pieces of the context that are themselves worked out once. The rule loader
validates conditions against `CATALOG`, `redirect-audit rules facts` and the reference print it. Adding a fact
means adding one decorated function here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from . import location, oauth, urls
from .model import Body, Request, Response, header
from .secrets import CookieJar, Credentials, SecretPolicy, credentials_of, form_pairs

STAGES = ("response", "followup", "no-followup", "flow")
_ALL = frozenset(("response", "followup", "no-followup"))  # a 3xx's facts: known whenever it is judged
_FOLLOWUP = frozenset({"followup"})
_FLOW = frozenset({"flow"})  # a step of an OAuth, OpenID Connect or SAML login (`oauth.Flows`)
_REPORTED = _ALL | _FLOW  # what every event shows: a login's step is an exchange too

MAX_REDIRECTS = 20  # WHATWG Fetch's redirect limit
URL_FACTS = frozenset({"redirect_url", "location", "location_raw", "followup_url"})  # redacted in every output
# What every event carries whoever reads it: the report's fields, and the host a rule's scope is matched on.
REPORTED = frozenset({"status", "original_method", "redirect_url", "redirect_host", "location"})
CONTENT_HEADERS = ("content-type", "content-encoding", "content-language", "content-location", "digest")


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    kind: str  # int | number | str | bool | enum | list
    stages: frozenset[str]
    doc: str
    compute: Callable[[Any], Any] = field(repr=False, compare=False)  # from a Redirect, or a Followup
    values: tuple[str, ...] = ()  # the allowed values of an enum
    nullable: bool = False
    case_sensitive: bool = False  # a list whose items `contains` compares exactly (cookie names); else any case

    @property
    def type_name(self) -> str:
        """The type as the reference shows it: `str or null`, `list (case-insensitive)`."""
        if self.kind == "list":
            return f"list ({'case-sensitive' if self.case_sensitive else 'case-insensitive'})"
        return f"{self.kind}{' or null' if self.nullable else ''}"

    @property
    def redirect(self) -> bool:
        """Known from the exchange alone (a 3xx, or a login's step): computed from a `Redirect`."""
        return "response" in self.stages


CATALOG: dict[str, Fact] = {}


def _fact(name: str, kind: str, stages: frozenset[str], doc: str, **details: Any):
    def register(compute: Callable[[Any], Any]) -> Callable[[Any], Any]:
        CATALOG[name] = Fact(name, kind, stages, doc, compute, **details)
        return compute

    return register


class Facts(dict):
    """The facts of one event: those already known (what a pending redirect kept), and the others computed from
    the context when first read. Reading a fact that is not known at this stage, or not catalogued, gives None
    through `get` (the rule loader makes sure conditions read only what their stage knows)."""

    __slots__ = ("_context",)

    def __init__(self, context: Redirect | Followup | None, known: dict[str, Any] | None = None) -> None:
        super().__init__(known or ())
        self._context = context

    def __missing__(self, name: str) -> Any:
        fact = CATALOG[name]
        wanted = FlowStep if fact.stages == _FLOW else Redirect if fact.redirect else Followup
        if not isinstance(self._context, wanted):
            raise KeyError(name)
        value = self[name] = fact.compute(self._context)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


class Redirect:
    """A 3xx and the request it answers: the pieces its facts read, each worked out once, when first needed."""

    def __init__(
        self,
        request: Request,
        response: Response,
        chain_length: int,
        credentials: Credentials,
        chain_carried_secrets: bool,
        loop: bool,
        policy: SecretPolicy,
        flows: oauth.Flows | None = None,
    ) -> None:
        self.request, self.response, self.policy = request, response, policy
        self.chain_length, self.credentials = chain_length, credentials
        self.chain_carried_secrets, self.loop, self.flows = chain_carried_secrets, loop, flows

    @cached_property
    def origin(self) -> urls.Url | None:
        return urls.parse(self.request.url)

    @cached_property
    def raw(self) -> str | None:
        locations = self.response.locations
        return locations[0] if locations else None

    @cached_property
    def target(self) -> urls.Url | None:
        return urls.resolve(self.request.url, self.raw) if self.raw is not None else None

    @cached_property
    def state(self) -> str:
        if self.raw is None:
            return "missing"
        if self.target is None:
            return "invalid"
        return "ok" if self.target.is_http else "non-http"

    @property
    def related(self) -> bool:
        return self.origin is not None and self.target is not None

    @property
    def http_target(self) -> urls.Url | None:
        return self.target if self.state == "ok" else None

    @cached_property
    def upgrade(self) -> bool:
        return self.related and urls.same_host_upgrade(self.origin, self.target)

    @cached_property
    def oauth(self) -> list[str] | None:
        return location.oauth_weaknesses(self.http_target) if self.http_target else None


class FlowStep(Redirect):
    """A step of a login (`oauth.Step`): an exchange, so the report's facts read it as they read a 3xx."""

    def __init__(self, step: oauth.Step, policy: SecretPolicy) -> None:
        super().__init__(step.request, step.response, 0, Credentials(), False, False, policy)
        self.step = step


@dataclass(slots=True)
class Original:
    """What a pending redirect keeps of its 3xx and its request: the facts rules will read later (long texts
    cut), sizes and fingerprints, no values."""

    facts: dict[str, Any]
    body: Body  # detached
    credentials: Credentials
    url: urls.Url | None  # the redirected request's origin
    time: float
    connection: str | None
    user_agent: str | None
    oauth_flow: str | None = None  # the login its 3xx starts or answers


class Followup:
    """A follow-up and the redirect it follows: the pieces its facts read, each worked out once."""

    def __init__(
        self,
        original: Original,
        request: Request,
        url: urls.Url,
        upgraded: bool,
        chain_left_origin: bool,
        policy: SecretPolicy,
        jar: CookieJar,
    ) -> None:
        self.original, self.request, self.url, self.upgraded = original, request, url, upgraded
        self.chain_left_origin, self.policy, self.jar = chain_left_origin, policy, jar

    @cached_property
    def after(self) -> Credentials:
        """The follow-up's credentials, when the original had any to compare with."""
        return credentials_of(self.request, self.policy) if self.original.credentials.any else Credentials()

    @cached_property
    def cookies(self) -> tuple[list[str], list[str]]:
        """(out of scope, scope unknown on the same site): the original's cookie pairs sent again to another host."""
        origin, url = self.original.url, self.url
        out: list[str] = []
        unknown: list[str] = []
        if origin is not None and url.host == origin.host:
            return out, unknown
        same_site = origin is not None and urls.registrable_domain(origin) == urls.registrable_domain(url)
        before = self.original.credentials.cookies
        for name, fingerprint in sorted(self.after.cookies.items()):
            if before.get(name) != fingerprint:
                continue
            scope = self.jar.scope(self.request.client, name, url.host, url.scheme == "https:")
            if scope == "unknown" and same_site:
                unknown.append(name)
            elif scope != "in":
                out.append(name)
        return out, unknown


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


# --- The catalogue: every fact, in the order the reference lists them --------------------------------------------


@_fact(
    "status",
    "int",
    _REPORTED,
    "Status code of the redirect response (301, 302, 303, 307, 308); of a login's step, its response's.",
)
def _status(hop: Redirect) -> Any:
    return hop.response.status


@_fact("original_method", "str", _REPORTED, "Method of the request that was answered with the 3xx.")
def _original_method(hop: Redirect) -> Any:
    return hop.request.method


@_fact("redirect_url", "str", _REPORTED, "URL of the request that was answered with the 3xx.")
def _redirect_url(hop: Redirect) -> Any:
    return hop.request.url


@_fact("redirect_host", "str", _REPORTED, "Host of `redirect_url`.")
def _redirect_host(hop: Redirect) -> Any:
    return hop.origin.host if hop.origin else ""


@_fact("location_raw", "str", _ALL, "The first Location header exactly as sent.", nullable=True)
def _location_raw(hop: Redirect) -> Any:
    return hop.raw


@_fact("location_count", "int", _ALL, "How many Location headers the response carried.")
def _location_count(hop: Redirect) -> Any:
    return len(hop.response.locations)


@_fact(
    "location_state",
    "enum",
    _ALL,
    "`ok`; `missing` (no Location); `invalid` (a browser cannot resolve it); `non-http` (resolves to a scheme "
    "other than http/https).",
    values=("ok", "missing", "invalid", "non-http"),
)
def _location_state(hop: Redirect) -> Any:
    return hop.state


@_fact(
    "location",
    "str",
    _REPORTED,
    "Location resolved against `redirect_url` as a browser does (WHATWG URL).",
    nullable=True,
)
def _location(hop: Redirect) -> Any:
    return hop.target.href if hop.target else None


@_fact("location_host", "str", _ALL, "Host of `location`.", nullable=True)
def _location_host(hop: Redirect) -> Any:
    return hop.target.host if hop.target else None


@_fact(
    "origin_relation",
    "enum",
    _ALL,
    "`redirect_url` to `location`: `same-origin`, `same-site` (same scheme and registrable domain, by the "
    "public-suffix list) or `cross-site`.",
    values=("same-origin", "same-site", "cross-site"),
    nullable=True,
)
def _origin_relation(hop: Redirect) -> Any:
    return urls.origin_relation(hop.origin, hop.target) if hop.related else None


@_fact(
    "scheme_change",
    "enum",
    _ALL,
    "`redirect_url` to `location`: `none`, `upgrade` (http to https), `downgrade` (https to http) or `other`.",
    values=("none", "upgrade", "downgrade", "other"),
    nullable=True,
)
def _scheme_change(hop: Redirect) -> Any:
    return urls.scheme_change(hop.origin, hop.target) if hop.related else None


@_fact(
    "original_body",
    "enum",
    _ALL,
    "Body of the original request: `none`, `present`, or `unknown` (streamed, not seen).",
    values=("none", "present", "unknown"),
)
def _original_body(hop: Redirect) -> Any:
    body = hop.request.body
    if body.length is None:
        return "unknown"
    return "present" if body.length else "none"


@_fact("original_body_length", "int", _ALL, "Length of the original body; null if unknown.", nullable=True)
def _original_body_length(hop: Redirect) -> Any:
    return hop.request.body.length


@_fact("chain_length", "int", _ALL, "Number of this redirect in its chain (1 for the first).")
def _chain_length(hop: Redirect) -> Any:
    return hop.chain_length


@_fact("too_many_redirects", "bool", _ALL, "True on the redirect that takes a chain past 20 redirects (Fetch's limit).")
def _too_many_redirects(hop: Redirect) -> Any:
    return hop.chain_length == MAX_REDIRECTS + 1


@_fact(
    "original_body_credentials",
    "list",
    _ALL,
    "Credential fields in the original body, by place: `form:password`, `json:user.password`, `multipart:pin` "
    "(names from the secret-field list).",
)
def _original_body_credentials(hop: Redirect) -> Any:
    return sorted(hop.credentials.body)


@_fact("original_query_credentials", "list", _ALL, "Credential fields in the original URL's query: `query:otp`.")
def _original_query_credentials(hop: Redirect) -> Any:
    return sorted(hop.credentials.query)


@_fact(
    "original_credential_headers",
    "list",
    _ALL,
    "Credential headers on the original request: `authorization`, `proxy-authorization`, `cookie`, and the "
    "configured secret headers (lower-case names).",
)
def _original_credential_headers(hop: Redirect) -> Any:
    return credential_headers(hop.credentials)


@_fact(
    "credentials_unparsed",
    "bool",
    _ALL,
    "The original body might hold credentials but could not be read: past the parse budget (once its "
    "Content-Encoding is undone), malformed, or in an encoding that is not decoded.",
)
def _credentials_unparsed(hop: Redirect) -> Any:
    return hop.credentials.unparsed


@_fact(
    "chain_carried_secrets",
    "bool",
    _ALL,
    "Some request of the chain so far carried credential fields or credential headers.",
)
def _chain_carried_secrets(hop: Redirect) -> Any:
    return hop.chain_carried_secrets


@_fact(
    "redirect_loopback",
    "bool",
    _ALL,
    "The host of `redirect_url` is a loopback one (localhost, 127.0.0.0/8, ::1): plain http to it never crosses a "
    "network.",
)
def _redirect_loopback(hop: Redirect) -> Any:
    return hop.origin is not None and urls.loopback(hop.origin)


@_fact(
    "upgrade_same_host",
    "bool",
    _ALL,
    "The Location takes `redirect_url` from http to https on the same host, with default ports or the same port "
    "(HTTPS enforcement): what the client sends next goes to the same server, over TLS.",
)
def _upgrade_same_host(hop: Redirect) -> Any:
    return hop.upgrade


@_fact(
    "upgrade_same_url",
    "bool",
    _ALL,
    "`upgrade_same_host`, and the path and query stay the same: the redirect upgrades the very URL.",
)
def _upgrade_same_url(hop: Redirect) -> Any:
    return hop.upgrade and _resource(hop.origin) == _resource(hop.target)


@_fact(
    "redirect_loop",
    "bool",
    _ALL,
    "True on the first redirect that answers a request its chain already made: the chain came back and was "
    "redirected again, a cycle (coming back once and getting an answer is not a loop).",
)
def _redirect_loop(hop: Redirect) -> Any:
    return hop.loop


@_fact("location_scheme", "str", _ALL, "Scheme of `location` without the colon (`https`, `javascript`).", nullable=True)
def _location_scheme(hop: Redirect) -> Any:
    return hop.target.scheme.rstrip(":") if hop.target else None


@_fact(
    "location_confusing",
    "list",
    _ALL,
    "Why the Location may read differently in browsers and RFC 3986 resolvers, or hide its host: "
    "`protocol-relative`, `backslash`, `control-characters`, `scheme-without-slashes`, `userinfo`, "
    "`parsers-disagree`, `not-utf8` (bytes that are not UTF-8, which browsers read differently).",
)
def _location_confusing(hop: Redirect) -> Any:
    return location.confusing(hop.request.url, hop.raw, hop.target) if hop.raw is not None else []


@_fact(
    "location_from_parameter",
    "str",
    _ALL,
    "Name of the request parameter (query or form; from the redirect-parameter list) whose value, decoded once or "
    "twice, is the Location's target.",
    nullable=True,
)
def _location_from_parameter(hop: Redirect) -> Any:
    if hop.http_target is None:
        return None
    form = form_pairs(hop.request, hop.policy)
    return location.parameter_source(hop.request.url, form, hop.http_target, hop.policy.redirect_params)


@_fact("location_tokens", "list", _ALL, "Token or password parameters in the Location's query (names).")
def _location_tokens(hop: Redirect) -> Any:
    return location.tokens(hop.http_target.query) if hop.http_target else []


@_fact(
    "location_fragment_tokens",
    "list",
    _ALL,
    "Token or password parameters in the Location's fragment (names): how "
    "the implicit and hybrid grants answer; the browser keeps them in its history.",
)
def _location_fragment_tokens(hop: Redirect) -> Any:
    return location.tokens(hop.http_target.fragment) if hop.http_target else []


@_fact(
    "oauth_request",
    "bool",
    _ALL,
    "The Location is an OAuth authorization request (response_type and client_id in its query).",
)
def _oauth_request(hop: Redirect) -> Any:
    return hop.oauth is not None


@_fact(
    "oauth_weaknesses",
    "list",
    _ALL,
    "What RFC 9700 discourages in that request: `no-state-or-pkce`, `pkce-plain`, `implicit-grant`, "
    "`http-redirect-uri` (an http redirect_uri on a non-loopback host).",
)
def _oauth_weaknesses(hop: Redirect) -> Any:
    return hop.oauth or []


@_fact("followup_method", "str", _FOLLOWUP, "Method of the client's follow-up request.")
def _followup_method(hop: Followup) -> Any:
    return hop.request.method


@_fact("followup_url", "str", _FOLLOWUP, "URL of the follow-up request.")
def _followup_url(hop: Followup) -> Any:
    return hop.request.url


@_fact("followup_host", "str", _FOLLOWUP, "Host of `followup_url`.")
def _followup_host(hop: Followup) -> Any:
    return hop.url.host


@_fact("method_changed", "bool", _FOLLOWUP, "The follow-up's method differs from the original's.")
def _method_changed(hop: Followup) -> Any:
    return hop.request.method != hop.original.facts["original_method"]


@_fact(
    "body_state",
    "enum",
    _FOLLOWUP,
    "Follow-up body against the original's: `none` (neither has one), `preserved` (same length and digest), "
    "`altered` (different), `dropped` (original had one, follow-up has none), `added` (only the follow-up has "
    "one), `unknown` (a body was streamed and not seen).",
    values=("none", "preserved", "altered", "dropped", "added", "unknown"),
)
def _body_state(hop: Followup) -> Any:
    return body_state(hop.original.body, hop.request.body)


@_fact("followup_body_length", "int", _FOLLOWUP, "Length of the follow-up's body; null if unknown.", nullable=True)
def _followup_body_length(hop: Followup) -> Any:
    return hop.request.body.length


@_fact(
    "followup_content_headers",
    "list",
    _FOLLOWUP,
    "Content headers left on the follow-up: Content-Type, Content-Encoding, Content-Language, Content-Location, "
    "Digest, and Content-Length when it is not 0 (lower-case names).",
)
def _followup_content_headers(hop: Followup) -> Any:
    return content_headers_left(hop.request)


@_fact(
    "followup_upgraded",
    "bool",
    _FOLLOWUP,
    "The client followed an http Location over https to the same URL (as HSTS does).",
)
def _followup_upgraded(hop: Followup) -> Any:
    return hop.upgraded


@_fact("followup_delay", "number", _FOLLOWUP, "Seconds between the 3xx and the follow-up.")
def _followup_delay(hop: Followup) -> Any:
    return round(max(0.0, hop.request.time - hop.original.time), 3)


@_fact(
    "followup_origin_relation",
    "enum",
    _FOLLOWUP,
    "`redirect_url` to `followup_url`: `same-origin`, `same-site` or `cross-site`.",
    values=("same-origin", "same-site", "cross-site"),
)
def _followup_origin_relation(hop: Followup) -> Any:
    origin = hop.original.url
    return urls.origin_relation(origin, hop.url) if origin else "cross-site"


@_fact(
    "chain_left_origin",
    "bool",
    _FOLLOWUP,
    "This follow-up, or an earlier one in its chain, went to an origin other than the chain's first.",
)
def _chain_left_origin(hop: Followup) -> Any:
    return hop.chain_left_origin


@_fact(
    "credentials_forwarded",
    "list",
    _FOLLOWUP,
    "Credential fields of the original request whose values the follow-up sends again (places).",
)
def _credentials_forwarded(hop: Followup) -> Any:
    repeated = hop.after.field_prints().values()
    return sorted(place for place, print_ in hop.original.credentials.field_prints().items() if print_ in repeated)


@_fact(
    "authorization_forwarded", "bool", _FOLLOWUP, "The follow-up carries the original request's Authorization value."
)
def _authorization_forwarded(hop: Followup) -> Any:
    before = hop.original.credentials.authorization
    return before is not None and hop.after.authorization == before


@_fact(
    "followup_upgrade_same_host",
    "bool",
    _FOLLOWUP,
    "`redirect_url` to `followup_url` is http to https on the same host, with default ports or the same port (the "
    "server's HTTPS enforcement, or the client's own upgrade, as HSTS does).",
)
def _followup_upgrade_same_host(hop: Followup) -> Any:
    return hop.original.url is not None and urls.same_host_upgrade(hop.original.url, hop.url)


@_fact(
    "cookies_out_of_scope",
    "list",
    _FOLLOWUP,
    "Cookies (names) of the original request that the follow-up sends to another host outside their scope: the "
    "shadow cookie jar saw their Set-Cookie and it does not cover that host, or it never saw one and the host is "
    "another site.",
    case_sensitive=True,
)
def _cookies_out_of_scope(hop: Followup) -> Any:
    return hop.cookies[0]


@_fact(
    "cookies_scope_unknown",
    "list",
    _FOLLOWUP,
    "Cookies (names) of the original request that the follow-up sends to another host of the same site "
    "(registrable domain), with no Set-Cookie seen to tell their scope: set before the proxy saw the client, "
    "perhaps for the whole site.",
    case_sensitive=True,
)
def _cookies_scope_unknown(hop: Followup) -> Any:
    return hop.cookies[1]


@_fact(
    "followup_proxy_authorization",
    "bool",
    _FOLLOWUP,
    "The follow-up carries a Proxy-Authorization header on to the origin server.",
)
def _followup_proxy_authorization(hop: Followup) -> Any:
    return header(hop.request.headers, "proxy-authorization") is not None


@_fact(
    "secret_headers_forwarded",
    "list",
    _FOLLOWUP,
    "Configured secret headers (names) whose original value the follow-up sends again.",
)
def _secret_headers_forwarded(hop: Followup) -> Any:
    after = hop.after.secret_headers
    return sorted(name for name, print_ in hop.original.credentials.secret_headers.items() if after.get(name) == print_)


@_fact(
    "oauth_authorization_response",
    "bool",
    _ALL,
    "The Location is the authorization response (a code, a token or "
    "an error) of a login this client started, to the redirect_uri it asked for: no open redirect, in any response "
    "mode.",
)
def _oauth_authorization_response(hop: Redirect) -> Any:
    return hop.flows is not None and hop.http_target is not None and hop.flows.is_response(hop.request, hop.target)


@_fact(
    "saml_relaystate_redirect",
    "bool",
    _ALL,
    "The request carries a SAMLResponse and the Location is its RelayState "
    "(decoded once or twice): the assertion consumer service sends the user where the RelayState says.",
)
def _saml_relaystate_redirect(hop: Redirect) -> Any:
    if hop.http_target is None:
        return False
    return location.saml_relaystate_target(hop.request.url, form_pairs(hop.request, hop.policy), hop.http_target)


@_fact(
    "oauth_step",
    "enum",
    _FLOW,
    "Which step of an OAuth or OpenID Connect login: `authorization-request` (the "
    "server answered it), `authorization-response` (a redirect or a form_post page carrying the code, a token or an "
    "error), `token-response` (the answer to the token request with the flow's code), `referer` (a later request of "
    "the client to another origin whose Referer carries the flow's values).",
    values=("authorization-request", "authorization-response", "token-response", "referer"),
)
def _oauth_step(hop: FlowStep) -> Any:
    return hop.step.name


@_fact(
    "oauth_redirect_uri_mismatch",
    "bool",
    _FLOW,
    "The authorization response went to a URL whose scheme, host, port "
    "or path differs from the `redirect_uri` the flow asked for (exact matching); false when it asked for none.",
)
def _oauth_redirect_uri_mismatch(hop: FlowStep) -> Any:
    return hop.step.redirect_uri_mismatch


@_fact(
    "oauth_state",
    "enum",
    _FLOW,
    "The authorization response's `state` against the request's: `matched`, `missing`, "
    "`changed`, or `not-requested`; null at other steps.",
    values=("matched", "missing", "changed", "not-requested"),
    nullable=True,
)
def _oauth_state(hop: FlowStep) -> Any:
    return hop.step.state


@_fact(
    "oauth_state_reused",
    "bool",
    _FLOW,
    "The authorization request carries a `state` this client already sent in another authorization request.",
)
def _oauth_state_reused(hop: FlowStep) -> Any:
    return hop.step.state_reused


@_fact(
    "oauth_iss",
    "enum",
    _FLOW,
    "The authorization response's `iss` (RFC 9207): `present` (the issuer of the server "
    "the flow started at), `mismatched` (another), `missing-promised` (absent, though the server's metadata promised "
    "it), `missing` (absent, not promised), `unknown-issuer` (present; the server's metadata was not seen); null at "
    "other steps.",
    values=("present", "mismatched", "missing-promised", "missing", "unknown-issuer"),
    nullable=True,
)
def _oauth_iss(hop: FlowStep) -> Any:
    return hop.step.iss


@_fact(
    "oauth_response_mode_ignored",
    "bool",
    _FLOW,
    "The request asked for `response_mode=form_post` or `fragment`, "
    "and the code or a token came in the Location's query.",
)
def _oauth_response_mode_ignored(hop: FlowStep) -> Any:
    return hop.step.response_mode_ignored


@_fact(
    "oauth_referer_values",
    "list",
    _FLOW,
    "The flow's values the Referer of a request to another origin carries, by "
    "name and fingerprint: `code (hmac:…)`, `state (…)`, tokens.",
)
def _oauth_referer_values(hop: FlowStep) -> Any:
    return hop.step.referer_values


@_fact(
    "oauth_referrer_policy",
    "str",
    _FLOW,
    "The Referrer-Policy of the callback's page (its header, else its "
    "`<meta name=referrer>`), `default` when it set none; null before the callback was seen.",
    nullable=True,
)
def _oauth_referrer_policy(hop: FlowStep) -> Any:
    return hop.step.flow.referrer_policy


@_fact(
    "oauth_tokens_issued",
    "bool",
    _FLOW,
    "The token request was answered 200 with an access token or an ID token.",
)
def _oauth_tokens_issued(hop: FlowStep) -> Any:
    return hop.step.tokens_issued


@_fact(
    "oauth_pkce",
    "enum",
    _FLOW,
    "The token request's `code_verifier` against the flow's `code_challenge` (RFC 7636): "
    "`matched`, `mismatched` (it does not hash to the challenge), `downgrade` (a verifier, no challenge), "
    "`missing-verifier`, or `absent` (neither); null at other steps.",
    values=("matched", "mismatched", "downgrade", "missing-verifier", "absent"),
    nullable=True,
)
def _oauth_pkce(hop: FlowStep) -> Any:
    return hop.step.pkce
