"""Secrets a request carries, known only by name and keyed fingerprint: the engine never keeps a value.

A fingerprint is a truncated HMAC-SHA256 under a key made fresh for each run, so two findings about the
same password can be correlated, and nothing written lets anyone recover or test-guess the value offline.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets as _random
from collections import OrderedDict
from dataclasses import dataclass, field
from hashlib import sha256
from urllib.parse import parse_qsl, unquote_plus, urlsplit

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
        data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        return "hmac:" + hmac.new(self.key, data, sha256).hexdigest()[:12]


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
    query = urlsplit(request.url).query
    if query:
        found.query = _pairs("query", parse_qsl(query, keep_blank_values=True), policy)
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
    return {f"{kind}:{name}": policy.fingerprint(value) for name, value in pairs if name.lower() in policy.fields}


def _body_credentials(request: Request, policy: SecretPolicy, found: Credentials) -> None:
    raw_type = header(request.headers, "content-type") or ""
    kind = _body_kind(raw_type.lower())
    if kind is None:
        return
    if request.body.length is None or request.body.length > policy.max_parse_bytes:
        found.unparsed = True
        return
    data = request.body.read()
    if data is None:
        found.unparsed = True
        return
    try:
        if kind == "form":
            text = data.decode("utf-8", "surrogateescape")
            found.body = _pairs("form", parse_qsl(text, keep_blank_values=True), policy)
        elif kind == "json":
            found.body = _json_fields(json.loads(data), policy)
        else:
            found.body = _multipart_fields(data, raw_type, policy)
    except (ValueError, RecursionError):
        found.unparsed = True


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


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_PART_NAME = re.compile(rb'content-disposition:[^\r\n]*?\bname="([^"]*)"', re.IGNORECASE)


def _multipart_fields(data: bytes, content_type: str, policy: SecretPolicy) -> dict[str, str]:
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ValueError("multipart without boundary")
    found = {}
    for part in data.split(b"--" + match.group(1).encode("latin-1"))[1:]:
        head, sep, value = part.partition(b"\r\n\r\n")
        name = _PART_NAME.search(head)
        if not sep or name is None:
            continue
        field_name = name.group(1).decode("utf-8", "replace")
        if field_name.lower() in policy.fields:
            found[f"multipart:{field_name}"] = policy.fingerprint(value.removesuffix(b"\r\n"))
    return found


@dataclass(frozen=True, slots=True)
class _Cookie:
    domain: str  # lower-case, no leading dot
    host_only: bool
    secure: bool


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
    """The fields of a urlencoded body small enough to parse (for finding where a Location came from)."""
    content_type = (header(request.headers, "content-type") or "").lower()
    if not request.body.length or request.body.length > policy.max_parse_bytes or _body_kind(content_type) != "form":
        return []
    data = request.body.read()
    return parse_qsl(data.decode("utf-8", "surrogateescape"), keep_blank_values=True) if data else []


_QUERY_PAIR = re.compile(r"([?&;#])([^=&;#]*)=([^&;#]*)")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#@]*)@")


def redact_url(url: str | None, policy: SecretPolicy) -> str | None:
    """A URL fit to print: the values of secret-named query parameters and any userinfo replaced by
    `redacted:<fingerprint>`, and bytes that were not UTF-8 as `%XX`."""
    if not url:
        return url
    url = printable(url)
    secret_names = policy.fields | _TOKEN_NAMES

    def query_pair(match: re.Match) -> str:
        sep, name, value = match.groups()
        if unquote_plus(name).lower() not in secret_names:
            return match.group(0)
        return f"{sep}{name}=redacted:{policy.fingerprint(unquote_plus(value))[5:]}"

    url = _USERINFO.sub(lambda m: f"{m.group(1)}redacted:{policy.fingerprint(m.group(2))[5:]}@", url, count=1)
    return _QUERY_PAIR.sub(query_pair, url)


_TOKEN_NAMES = frozenset(TOKEN_PARAMS)
