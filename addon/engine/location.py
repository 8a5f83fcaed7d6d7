"""What a Location value says about the server that sent it: confusing spellings, where it came from,
tokens it carries, and the OAuth authorization request it may start."""

from __future__ import annotations

import re
from urllib.parse import unquote, urljoin, urlsplit

from . import params, urls
from .model import printable
from .secrets import TOKEN_PARAMS

_SCHEME_NO_SLASHES = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!//)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOKENS = frozenset(TOKEN_PARAMS)


def confusing(base: str, raw: str, target: urls.Url | None) -> list[str]:
    """Reasons a Location may read differently in browsers and RFC 3986 resolvers, or hide its host."""
    reasons = []
    text = raw.strip(" \t\r\n")
    if text.startswith(("//", "\\\\", "/\\", "\\/")):
        reasons.append("protocol-relative")
    if "\\" in raw:
        reasons.append("backslash")
    if _CONTROL.search(raw):
        reasons.append("control-characters")
    if printable(raw) != raw:  # bytes that were not UTF-8: browsers differ (U+FFFD in Chromium, or %XX)
        reasons.append("not-utf8")
    if _SCHEME_NO_SLASHES.match(text) and text.split(":", 1)[0].lower() in ("http", "https"):
        reasons.append("scheme-without-slashes")
    if target is not None and target.userinfo:
        reasons.append("userinfo")
    if target is not None and target.is_http and _rfc3986_host(base, raw).strip("[]") != target.host.strip("[]"):
        reasons.append("parsers-disagree")
    return reasons


_HEAD = re.compile(r"[^/?#]*(?://[^/?#]*)?")  # RFC 3986: scheme (or a first segment), then `//` and the authority


def _rfc3986_host(base: str, raw: str) -> str:
    """The host Python's RFC 3986 resolver (urljoin) gives, without resolving when the answer is plain: a
    reference with its own authority keeps it, one with neither scheme nor authority keeps the base's. Only the
    heads up to the authority's end are read: the host never depends on the rest, and urlsplit caches what it
    reads (a long URL must not stay in memory)."""
    base, raw = _HEAD.match(base).group(), _HEAD.match(raw).group()
    try:
        reference = urlsplit(raw)
        if reference.netloc:
            host = reference.hostname
        elif not reference.scheme:
            host = urlsplit(base).hostname
        else:
            host = urlsplit(urljoin(base, raw)).hostname
    except ValueError:
        return ""
    return (host or "").lower()


# Resolving a candidate reads the whole request URL: the work over all candidates is bounded, so that a long URL
# with thousands of redirect parameters costs a few passes over it, not one per parameter. Real URLs never reach it.
_RESOLVE_BUDGET = 1 << 20
_RESOLVES_PER_URL = 8


def parameter_source(
    request_url: str, form: list[tuple[str, str]], target: urls.Url, names: frozenset[str]
) -> str | None:
    """The request parameter (query or form) whose value, decoded once or twice, is the Location's target."""
    wanted = target.without_fragment
    budget = _RESOLVE_BUDGET + _RESOLVES_PER_URL * len(request_url)
    tried = set()
    for name, value in params.pairs(params.query(request_url)) + form:
        if name.lower() not in names or not value:
            continue
        for candidate in (value, unquote(value)):
            if candidate in tried:
                continue
            tried.add(candidate)
            budget -= len(request_url) + len(candidate)
            if budget < 0:
                return None
            resolved = urls.resolve(request_url, candidate)
            if resolved is not None and resolved.without_fragment == wanted:
                return name
    return None


def tokens(component: str) -> list[str]:
    """Token and password parameters in a Location's query or fragment (names only)."""
    names = {name for name, _ in params.pairs(component)}
    return sorted(name for name in names if name.lower() in _TOKENS)


def saml_relaystate_target(request_url: str, form: list[tuple[str, str]], target: urls.Url) -> bool:
    """The request carries a SAMLResponse, and the Location is its RelayState (decoded once or twice): the assertion
    consumer service redirects to what the RelayState says."""
    fields = dict(params.pairs(params.query(request_url))) | dict(form)
    relay = fields.get("RelayState")
    if "SAMLResponse" not in fields or not relay:
        return False
    return any(
        (resolved := urls.resolve(request_url, candidate)) is not None
        and resolved.without_fragment == target.without_fragment
        for candidate in (relay, unquote(relay))
    )


def oauth_weaknesses(target: urls.Url) -> list[str] | None:
    """For an OAuth authorization request (response_type and client_id in the query), what RFC 9700
    discourages in it; None when the Location is no authorization request."""
    query = dict(params.pairs(target.query))
    if "response_type" not in query or "client_id" not in query:
        return None
    weaknesses = []
    if not query.get("state") and not query.get("code_challenge"):
        weaknesses.append("no-state-or-pkce")
    if query.get("code_challenge") and query.get("code_challenge_method", "plain").lower() == "plain":
        weaknesses.append("pkce-plain")
    if "token" in query["response_type"].split():
        weaknesses.append("implicit-grant")
    redirect_uri = urls.parse(query.get("redirect_uri", ""))
    if redirect_uri is not None and redirect_uri.scheme == "http:" and not urls.loopback(redirect_uri):
        weaknesses.append("http-redirect-uri")
    return weaknesses
