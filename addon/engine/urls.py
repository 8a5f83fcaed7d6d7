"""URLs as browsers read them (WHATWG URL Standard, through ada-url) and the relations rules test."""

from __future__ import annotations

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
    query: str  # without the "?"

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
        """The form pairing compares: no fragment (it never travels), and an empty query `?` dropped
        (browsers keep it, many clients drop it; the server sees the same resource)."""
        return self.without_fragment.removesuffix("?")


# Only what Url holds: ada-url builds a Python value for every component asked for.
_PARTS = ("href", "protocol", "hostname", "port", "host_type", "username", "password", "search")


@lru_cache(maxsize=1024)
def parse(url: str) -> Url | None:
    """Parse an absolute URL; None when a browser would reject it. Bytes that were not UTF-8 are read as the
    `%XX` they stand for. Cached: a request's URL and a Location are each read by pairing, facts and
    credentials within a few calls."""
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
    try:
        joined = ada_url.join_url(printable(base), reference)
    except ValueError:
        return None
    return parse(joined)


def _from_parts(parts: dict) -> Url:
    return Url(
        href=parts["href"],
        scheme=parts["protocol"],
        host=parts["hostname"],
        port=parts["port"],
        ip_host=parts["host_type"] != ada_url.HostType.DEFAULT,
        userinfo=bool(parts["username"] or parts["password"]),
        query=parts["search"].removeprefix("?"),
    )


@lru_cache(maxsize=4096)
def _registrable_domain(host: str) -> str:
    return _PSL.privatesuffix(host) or host


def site(url: Url) -> str:
    """Schemeful site (HTML Standard): scheme plus registrable domain; an IP or a bare suffix is its own site."""
    host = url.host if url.ip_host else _registrable_domain(url.host)
    return f"{url.scheme}//{host}"


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
    """The http:// form of an https URL (for pairing a follow-up a client upgraded itself, as HSTS does)."""
    if url.scheme != "https:":
        return None
    port = "" if url.port in ("", "80") else f":{url.port}"
    rest = url.key.split("//", 1)[1].split("/", 1)
    path = "/" + rest[1] if len(rest) > 1 else "/"
    return f"http://{url.host}{port}{path}".removesuffix("?")
