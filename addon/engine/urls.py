"""URLs as browsers read them (WHATWG URL Standard, through ada-url) and the relations rules test."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

import ada_url
from publicsuffixlist import PublicSuffixList

from .model import printable

_PSL = PublicSuffixList()
HTTP_SCHEMES = frozenset({"http:", "https:"})


@dataclass(frozen=True, slots=True)
class Url:
    """A parsed absolute URL; `href` is the WHATWG serialisation (the form pairing compares)."""

    href: str
    scheme: str  # "https:" (with the colon, as WHATWG spells it)
    host: str  # hostname, IPv6 in brackets, no port
    port: str  # explicit non-default port, or ""
    ip_host: bool
    userinfo: bool  # a user name or password before the host: `https://trusted.example@evil.example`
    path: str
    query: str  # without the "?"
    fragment: str = ""  # without the "#"

    def origin_only(self) -> Url:
        """This URL without path and query: what outlives its request (its origin, host and scheme)."""
        return Url(self.origin + "/", self.scheme, self.host, self.port, self.ip_host, self.userinfo, "/", "")

    @property
    def origin(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}//{self.host}{port}"

    @property
    def is_http(self) -> bool:
        return self.scheme in HTTP_SCHEMES

    @property
    def without_fragment(self) -> str:
        return self.href.split("#", 1)[0]

    @property
    def key(self) -> str:
        """The canonical form pairing compares, the same for every spelling a client may send for this URL.
        The WHATWG parse has already lower-cased and IDNA-encoded the host, dropped a default port, removed
        dot segments and percent-encoded raw non-ASCII; here the fragment goes (it never travels), an empty
        query `?` too (browsers keep it, many clients drop it), and escapes are normalised (`canonical`)."""
        query = f"?{canonical(self.query, _QUERY_DELIMITERS)}" if self.query else ""
        return self.origin + canonical(self.path, _PATH_DELIMITERS) + query


# Characters that are structure where they stand: escaped, they are data, so `/a%2Fb` is not `/a/b`, nor
# `?q=a%26b` `?q=a&b` (RFC 3986 §2.2). Every other printable ASCII character means the same raw or escaped: its
# escape is decoded (RFC 3986 §6.2.2.2 for the unreserved ones; clients also differ on `|`, `[]`, `^`, quotes).
_PATH_DELIMITERS = frozenset("/?#%")
_QUERY_DELIMITERS = frozenset("&=+;#%")
_ESCAPE = re.compile("%([0-9A-Fa-f]{2})")


def canonical(component: str, delimiters: frozenset[str]) -> str:
    """A path or query with each escape of a character that means the same raw decoded, and every other escape
    (delimiters, bytes outside printable ASCII) in upper case: `%7euser` and `~user`, `%c3%a9` and `%C3%A9`,
    `%7C` and `|` compare equal. One linear pass."""
    if "%" not in component:
        return component

    def normal(match: re.Match) -> str:
        char = chr(int(match.group(1), 16))
        return char if "!" <= char <= "~" and char not in delimiters else match.group().upper()

    return _ESCAPE.sub(normal, component)


# Only what Url holds: ada-url builds a Python value for every component asked for.
_PARTS = ("href", "protocol", "hostname", "port", "host_type", "username", "password", "pathname", "search", "hash")


def parse(url: str) -> Url | None:
    """Parse an absolute URL; None when a browser would reject it. Bytes that were not UTF-8 are read as the
    `%XX` they stand for. Cached: a request's URL and a Location are each read by pairing, facts and
    credentials within a few calls; a long one is not, so that the cache's memory is bounded in bytes."""
    return _parse_cached(url) if len(url) <= MAX_CACHED_URL else _parse(url)


MAX_CACHED_URL = 2048


@lru_cache(maxsize=1024)
def _parse_cached(url: str) -> Url | None:
    return _parse(url)


def _parse(url: str) -> Url | None:
    try:
        parts = ada_url.parse_url(printable(url), _PARTS)
    except ValueError:
        return None
    return _from_parts(parts)


def resolve(base: str, reference: str) -> Url | None:
    """Resolve a Location value against the request URL exactly as a browser does; None if it fails.
    Bytes that are not UTF-8 (held as surrogate escapes, as mitmproxy decodes headers) are read as Chromium
    reads them: each invalid sequence becomes U+FFFD, which the URL parser percent-encodes."""
    if not reference.isascii():
        reference = reference.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _joined(base, reference)


def readings(base: str, reference: str) -> list[Url]:
    """The URLs clients make of a Location: first as browsers read it (`resolve`); for bytes outside ASCII, also
    as clients that pass them on as they are (percent-encoded) and as those that read header bytes as ISO-8859-1
    (http.client and urllib3 do, and send `cafÃ©` for `café`)."""
    found = [resolve(base, reference)]
    if not reference.isascii():
        data = reference.encode("utf-8", "surrogateescape")
        found += [_joined(base, printable(reference)), _joined(base, data.decode("latin-1"))]
    return [url for url in found if url is not None and url.is_http]


def _joined(base: str, reference: str) -> Url | None:
    """`reference` resolved against `base` by the WHATWG parser; None if it fails."""
    try:
        return parse(ada_url.join_url(printable(base), reference))
    except ValueError:
        return None


def _from_parts(parts: dict) -> Url:
    return Url(
        href=parts["href"],
        scheme=parts["protocol"],
        host=parts["hostname"],
        port=parts["port"],
        ip_host=parts["host_type"] != ada_url.HostType.DEFAULT,
        userinfo=bool(parts["username"] or parts["password"]),
        path=parts["pathname"],
        query=parts["search"].removeprefix("?"),
        fragment=parts["hash"].removeprefix("#"),
    )


@lru_cache(maxsize=4096)
def _registrable_domain(host: str) -> str:
    return _PSL.privatesuffix(host) or host


def registrable_domain(url: Url) -> str:
    """The domain a site is registered under, by the public-suffix list; an IP or a bare suffix is its own."""
    if url.ip_host:
        return url.host
    if len(url.host) > 253:  # no real host name: not worth a place in the cache
        return _registrable_domain.__wrapped__(url.host)
    return _registrable_domain(url.host)


def site(url: Url) -> str:
    """Schemeful site (HTML Standard): scheme plus registrable domain."""
    return f"{url.scheme}//{registrable_domain(url)}"


def origin_relation(a: Url, b: Url) -> str:
    """`same-origin`, `same-site` or `cross-site` between two URLs."""
    if a.origin == b.origin:
        return "same-origin"
    if site(a) == site(b):
        return "same-site"
    return "cross-site"


def scheme_change(a: Url, b: Url) -> str:
    """`none`, `upgrade` (http to https), `downgrade` (https to http) or `other`."""
    if a.scheme == b.scheme:
        return "none"
    if a.scheme == "http:" and b.scheme == "https:":
        return "upgrade"
    if a.scheme == "https:" and b.scheme == "http:":
        return "downgrade"
    return "other"


def http_variant(url: Url) -> str | None:
    """The key of the http:// form of an https URL (for pairing a follow-up a client upgraded itself, as HSTS
    does)."""
    if url.scheme != "https:":
        return None
    port = "" if url.port in ("", "80") else f":{url.port}"
    return f"http://{url.host}{port}" + url.key.removeprefix(url.origin)


def same_host_upgrade(a: Url, b: Url) -> bool:
    """http to https on the same host, with default ports or the same port: HTTPS enforcement, where what the
    client sends next goes to the same server, now over TLS."""
    return a.scheme == "http:" and b.scheme == "https:" and a.host == b.host and a.port == b.port


def loopback(url: Url) -> bool:
    """A loopback host (localhost, 127.0.0.0/8, ::1): plain http to it never crosses a network."""
    if url.host == "localhost" or url.host.endswith(".localhost"):
        return True
    if not url.ip_host:
        return False
    try:
        return ipaddress.ip_address(url.host.strip("[]")).is_loopback
    except ValueError:
        return False
