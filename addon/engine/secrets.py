"""Secrets a request carries, known only by name and keyed fingerprint: the engine never keeps a value.

A fingerprint is a truncated HMAC-SHA256 under a key made fresh for each run, so two findings about the
same password can be correlated, and nothing written lets anyone recover or test-guess the value offline.
"""

from __future__ import annotations

import hmac
import json
import secrets as _random
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from hashlib import sha256
from urllib.parse import parse_qsl, quote

from . import bodies, params
from .model import Headers, Request, header, header_values, printable

DEFAULT_SECRET_FIELDS = (
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "client_secret", "client_assertion",
    "assertion", "otp", "totp", "pin", "api_key", "apikey", "access_token", "refresh_token", "id_token",
    "code_verifier", "SAMLResponse",
)  # fmt: skip
DEFAULT_SECRET_HEADERS = ("X-API-Key", "X-Auth-Token")
DEFAULT_REDIRECT_PARAMS = (
    "next", "url", "redirect", "redirect_uri", "redirect_url", "return", "return_to", "returnTo", "returnUrl",
    "continue", "dest", "destination", "goto", "target", "RelayState", "callback", "forward", "to",
)  # fmt: skip
TOKEN_PARAMS = ("access_token", "id_token", "refresh_token", "client_secret", "password", "passwd", "pwd")
_TOKEN_NAMES = frozenset(TOKEN_PARAMS)
_LOGIN_VALUES = frozenset(("code", "state", "nonce"))  # a login's one-time values: a session to whoever reads them
DEFAULT_MAX_PARSE_BYTES = 1024 * 1024
_JSON_MAX_DEPTH = 32


@dataclass(frozen=True)
class SecretPolicy:
    """What counts as a secret, and how much of a body may be parsed to find them."""

    fields: frozenset[str] = frozenset(name.lower() for name in DEFAULT_SECRET_FIELDS)
    headers: frozenset[str] = frozenset(name.lower() for name in DEFAULT_SECRET_HEADERS)
    redirect_params: frozenset[str] = frozenset(name.lower() for name in DEFAULT_REDIRECT_PARAMS)
    max_parse_bytes: int = DEFAULT_MAX_PARSE_BYTES
    key: bytes = field(default_factory=lambda: _random.token_bytes(32), repr=False)

    def fingerprint(self, value: str | bytes) -> str:
        mac = self._mac.copy()
        mac.update(value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value)
        return "hmac:" + mac.hexdigest()[:12]

    @cached_property
    def _mac(self) -> hmac.HMAC:
        """The HMAC keyed once: each fingerprint copies it, rather than padding and hashing the key again."""
        return hmac.new(self.key, digestmod=sha256)

    @cached_property
    def redacted_names(self) -> frozenset[str]:
        """Parameters whose values URLs never show: the secret fields, the token parameters and a login's values."""
        return self.fields | _TOKEN_NAMES | _LOGIN_VALUES


@dataclass(slots=True)
class Credentials:
    """The secrets of one request, as {place: fingerprint}. Places read like `form:password`,
    `json:user.password`, `multipart:pin`, `query:access_token`."""

    body: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    authorization: str | None = None
    proxy_authorization: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)  # cookie name -> fingerprint of name=value
    secret_headers: dict[str, str] = field(default_factory=dict)
    unparsed: bool = False  # a body that might hold credentials was too large or malformed

    @property
    def any(self) -> bool:
        return bool(
            self.body or self.query or self.authorization or self.proxy_authorization or self.cookies
            or self.secret_headers
        )  # fmt: skip

    def field_prints(self) -> dict[str, str]:
        return {**self.body, **self.query}


def credentials_of(request: Request, policy: SecretPolicy) -> Credentials:
    found = Credentials()
    query = params.query(request.url)
    if query:  # read by the tokenizer redaction reads with: a redacted value's fingerprint is this one
        found.query = _pairs("query", params.pairs(query), policy)
    headers = request.headers
    if (value := header(headers, "authorization")) is not None:
        found.authorization = policy.fingerprint(value)
    if (value := header(headers, "proxy-authorization")) is not None:
        found.proxy_authorization = policy.fingerprint(value)
    found.cookies = cookie_prints(headers, policy)
    found.secret_headers = {
        name: policy.fingerprint(value) for name, value in headers if name in policy.headers
    }  # fmt: skip
    if request.body.length != 0:  # None: streamed, not seen
        _body_credentials(request, policy, found)
    return found


def cookie_prints(headers: Headers, policy: SecretPolicy) -> dict[str, str]:
    prints = {}
    for line in header_values(headers, "cookie"):
        for pair in line.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep and name:
                prints[name] = policy.fingerprint(f"{name}={value}")
    return prints


def _pairs(kind: str, pairs, policy: SecretPolicy) -> dict[str, str]:
    values = {f"{kind}:{name}": value for name, value in pairs if name.lower() in policy.fields}  # the last counts
    return {place: policy.fingerprint(value) for place, value in values.items()}


def _body_credentials(request: Request, policy: SecretPolicy, found: Credentials) -> None:
    raw_type = header(request.headers, "content-type") or ""
    kind = _body_kind(raw_type.lower())
    if kind is None:
        return
    try:
        data = _readable_body(request, policy)
        if kind == "form":
            found.body = _pairs("form", _form(data), policy)
        elif kind == "json":
            found.body = _json_fields(json.loads(data), policy)
        else:
            fields = bodies.multipart_fields(data, raw_type, policy.fields)
            found.body = {f"multipart:{name}": policy.fingerprint(value) for name, value in fields.items()}
    except (ValueError, RecursionError):
        found.unparsed = True


def _readable_body(request: Request, policy: SecretPolicy) -> bytes:
    """The body with its content codings undone, within the parse budget; `bodies.Unreadable` when it is not
    there to read (streamed past the proxy, detached) or larger than the budget, encoded or decoded."""
    length = request.body.length
    data = request.body.read() if length is not None and length <= policy.max_parse_bytes else None
    if data is None:
        raise bodies.Unreadable("not seen, or larger than the parse budget")
    return bodies.decoded(data, header(request.headers, "content-encoding"), policy.max_parse_bytes)


def _form(data: bytes) -> list[tuple[str, str]]:
    return parse_qsl(data.decode("utf-8", "surrogateescape"), keep_blank_values=True)


def _body_kind(content_type: str) -> str | None:
    if content_type.startswith("application/x-www-form-urlencoded"):
        return "form"
    if content_type.startswith("multipart/form-data"):
        return "multipart"
    mime = content_type.split(";", 1)[0].strip()
    if mime == "application/json" or mime.endswith("+json"):
        return "json"
    return None


def _json_fields(document, policy: SecretPolicy) -> dict[str, str]:
    found: dict[str, str] = {}
    stack = [(document, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > _JSON_MAX_DEPTH:
            raise ValueError("JSON nested too deeply")
        if isinstance(node, dict):
            for key, value in node.items():
                place = f"{path}.{key}" if path else str(key)
                if str(key).lower() in policy.fields and not isinstance(value, dict | list):
                    found[f"json:{place}"] = policy.fingerprint(json.dumps(value))
                else:
                    stack.append((value, place, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node))
    return found


@dataclass(frozen=True, slots=True)
class _Cookie:
    domain: str  # lower-case, no leading dot
    host_only: bool
    secure: bool


MAX_COOKIE_KEY = 512  # name and domain: a browser keeps at most 4,096 bytes for a cookie, with its value


class CookieJar:
    """A shadow of each client's cookie jar, from the Set-Cookie responses seen through the proxy.

    It answers one question: is a cookie of this name in scope for that host? (Domain and Secure; the
    path does not matter for a leak to another host.) Bounded: least recently used clients go first.
    """

    def __init__(self, max_clients: int = 1000, max_cookies: int = 300) -> None:
        self.max_clients = max_clients
        self.max_cookies = max_cookies
        self._jars: OrderedDict[str, dict[tuple[str, str], _Cookie]] = OrderedDict()

    def learn(self, client: str, host: str, set_cookies: list[str]) -> None:
        if not set_cookies:
            return
        jar = self._jars.pop(client, None) or {}
        self._jars[client] = jar
        for line in set_cookies:
            parsed = _parse_set_cookie(line, host)
            if parsed is None:
                continue
            name, cookie, delete = parsed
            if len(name) + len(cookie.domain) > MAX_COOKIE_KEY:  # no browser keeps such a cookie: memory bounded
                continue
            jar.pop((name, cookie.domain), None)
            if not delete:
                jar[(name, cookie.domain)] = cookie
        while len(jar) > self.max_cookies:
            jar.pop(next(iter(jar)))
        while len(self._jars) > self.max_clients:
            self._jars.popitem(last=False)

    def scope(self, client: str, name: str, host: str, https: bool) -> str:
        """`in` when a cookie of this name seen for the client is in scope for the host, `out` when those seen
        are not, `unknown` when the client was never seen to get one."""
        known = False
        host = host.lower()
        for (cookie_name, _), cookie in self._jars.get(client, {}).items():
            if cookie_name != name:
                continue
            known = True
            if cookie.secure and not https:
                continue
            if host == cookie.domain or (not cookie.host_only and host.endswith("." + cookie.domain)):
                return "in"
        return "out" if known else "unknown"


def _parse_set_cookie(line: str, host: str) -> tuple[str, _Cookie, bool] | None:
    pair, *attributes = line.split(";")
    name, sep, _ = pair.strip().partition("=")
    if not sep or not name:
        return None
    domain, host_only, secure, delete = host.lower(), True, False, False
    for attribute in attributes:
        key, _, value = attribute.strip().partition("=")
        key = key.strip().lower()
        if key == "domain" and value.strip():
            candidate = value.strip().lstrip(".").lower()
            if host.lower() != candidate and not host.lower().endswith("." + candidate):
                return None  # a browser rejects a Domain the host is not inside
            domain, host_only = candidate, False
        elif key == "secure":
            secure = True
        elif key == "max-age" and value.strip().lstrip("-").isdigit():
            delete = int(value) <= 0
    return name.strip(), _Cookie(domain, host_only, secure), delete


def form_pairs(request: Request, policy: SecretPolicy) -> list[tuple[str, str]]:
    """The fields of a urlencoded body readable within the budget (for finding where a Location came from)."""
    content_type = (header(request.headers, "content-type") or "").lower()
    if not request.body.length or _body_kind(content_type) != "form":
        return []
    try:
        return _form(_readable_body(request, policy))
    except ValueError:
        return []


_NESTED_URLS = 2  # how deep URLs inside parameter values (open-redirect targets, callbacks) are looked into
_NESTED_DECODES = 2  # each read as written, and decoded once and twice, as location.parameter_source reads them
_SAFE_WRITTEN_BACK = "/:?=@;,!$'()*"  # left as they are in a nested URL written back encoded: readable, unambiguous


def redact_url(url: str | None, policy: SecretPolicy) -> str | None:
    """A URL fit to print: the values of secret-named query and fragment parameters and any userinfo replaced by
    `redacted:<fingerprint>`, in the URL and in URLs inside its parameter values, and bytes that were not UTF-8
    as `%XX`. Linear in the URL: a bounded number of passes over it."""
    if not url:
        return url
    return _redacted(printable(url), policy, _NESTED_URLS)


def _redacted(url: str, policy: SecretPolicy, nesting: int) -> str:
    return _replaced(url, _secret_spans(url, policy, nesting))


def _replaced(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, replacement) span, in order and apart, replaced."""
    pieces, written = [], 0
    for start, end, replacement in spans:
        pieces += (text[written:start], replacement)
        written = end
    return "".join(pieces) + text[written:] if pieces else text


def _secret_spans(url: str, policy: SecretPolicy, nesting: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, replacement) of each secret in `url`, in order: its userinfo, then each secret-named
    parameter's value, and each other value that holds secrets: a secret-named parameter where `;` separates
    them too, or, read as a URL, secrets of its own (with `nesting` levels left)."""
    userinfo = params.userinfo(url)
    if userinfo is not None:
        yield *userinfo, _mark(url[userinfo[0] : userinfo[1]], policy)
    for span in params.query_and_fragment(url):
        if span is None:
            continue
        legacy = _legacy_secrets(url, span, policy)
        next_legacy = next(legacy, None)
        for name, start, end in params.parameters(url, *span):
            if start == end:
                continue
            written = url[start:end]
            if name.lower() in policy.redacted_names:
                yield start, end, _mark(params.read(written), policy)
                continue
            inside = []  # the `;`-separated secrets within this value (such a value never crosses its ends)
            while next_legacy is not None and next_legacy[0] < end:
                legacy_start, legacy_end = next_legacy
                if legacy_start >= start:
                    mark = _mark(params.read(url[legacy_start:legacy_end]), policy)
                    inside.append((legacy_start - start, legacy_end - start, mark))
                next_legacy = next(legacy, None)
            shown = _replaced(written, inside)
            if nesting and _may_hold_secrets(shown):
                shown = _inside(shown, policy, nesting - 1, _NESTED_DECODES)
            if shown != written:
                yield start, end, shown


def _legacy_secrets(url: str, span: tuple[int, int], policy: SecretPolicy) -> Iterator[tuple[int, int]]:
    """Where the secret-named values of a query or fragment lie for a server that splits on `;` too."""
    if ";" not in url[span[0] : span[1]]:
        return
    for name, start, end in params.parameters(url, *span, legacy=True):
        if start < end and name.lower() in policy.redacted_names:
            yield start, end


def _may_hold_secrets(value: str) -> bool:
    """Whether a value, read as a URL as written or decoded once or twice, could hold a parameter or userinfo
    (an `=` or an `@`, raw or escaped): only then is it worth reading as one."""
    if "=" in value or "@" in value:
        return True
    lowered = value.translate(params.DROPPED).lower() if "%" in value else ""
    return any(sign in lowered for sign in ("%3d", "%40", "%253d", "%2540"))


def _inside(value: str, policy: SecretPolicy, nesting: int, decodes: int) -> str:
    """A parameter's value with the secrets of the URL it may be redacted: as written, and decoded (`decodes`
    times at most), as a server may decode it before redirecting to it. A decoded reading that held secrets is
    written back encoded, so the value keeps its place in the URL around it."""
    redacted = _redacted(value, policy, nesting)
    if decodes and "%" in redacted:
        decoded = params.read(redacted)
        inside = _inside(decoded, policy, nesting, decodes - 1)
        if inside != decoded:
            redacted = quote(inside, safe=_SAFE_WRITTEN_BACK)
    return redacted


def _mark(value: str, policy: SecretPolicy) -> str:
    return f"redacted:{policy.fingerprint(value)[5:]}"
