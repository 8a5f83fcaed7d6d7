"""Facts: the named values rules test. Computed once per 3xx and once per follow-up.

`CATALOG` is the single list of facts: the rule loader validates conditions against it, and
`redirect-audit rules facts` prints it. Adding a fact means adding it here and computing it below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import urls
from .model import Body, Request, Response, header

STAGES = ("response", "followup", "no-followup")
_ALL = frozenset(STAGES)
_FOLLOWUP = frozenset({"followup"})

MAX_REDIRECTS = 20  # WHATWG Fetch's redirect limit
CONTENT_HEADERS = ("content-type", "content-encoding", "content-language", "content-location", "digest")


@dataclass(frozen=True, slots=True)
class Fact:
    name: str
    kind: str  # int | number | str | bool | enum | list
    stages: frozenset[str]
    doc: str
    values: tuple[str, ...] = ()  # the allowed values of an enum
    nullable: bool = False


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
        Fact(
            "redirect_loop",
            "bool",
            _FOLLOWUP,
            "True on the first follow-up that repeats a method and URL already requested in its chain.",
        ),
        Fact("followup_delay", "number", _FOLLOWUP, "Seconds between the 3xx and the follow-up."),
    )
}


def _body_presence(body: Body) -> str:
    if body.length is None:
        return "unknown"
    return "present" if body.length else "none"


def redirect_facts(request: Request, response: Response, chain_length: int) -> dict[str, Any]:
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
    }


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


def followup_facts(
    redirect: dict[str, Any],
    original_body: Body,
    followup: Request,
    followup_host: str,
    upgraded: bool,
    loop: bool,
    redirect_time: float,
) -> dict[str, Any]:
    """Facts of a 3xx paired with the client's follow-up (includes the redirect's own facts)."""
    return {
        **redirect,
        "followup_method": followup.method,
        "followup_url": followup.url,
        "followup_host": followup_host,
        "method_changed": followup.method != redirect["original_method"],
        "body_state": body_state(original_body, followup.body),
        "followup_body_length": followup.body.length,
        "followup_content_headers": content_headers_left(followup),
        "followup_upgraded": upgraded,
        "redirect_loop": loop,
        "followup_delay": round(max(0.0, followup.time - redirect_time), 3),
    }
