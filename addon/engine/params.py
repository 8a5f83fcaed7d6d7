"""Where a URL carries secrets, read the way servers and browsers read it: the query and fragment parameters
(one tokenizer, for fingerprinting and for redaction alike, so both read the same value) and the userinfo.

Plain scanning and anchored patterns only: every function here is linear in its input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote_plus

DROPPED = str.maketrans("", "", "\t\n\r")  # WHATWG URL parsers remove these wherever they stand
_LEADING = re.compile(r"[\x00-\x20]*")  # and these before the URL
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file"})
# Anchored, each run of characters read once: the scheme (tab and newlines inside are dropped by browsers) ...
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-\t\n\r]*:")
# ... the slashes before an authority (after a special scheme, or starting a reference: `\` counts as `/`) ...
_SLASHES = re.compile(r"[/\\\t\n\r]*")
_TWO_SLASHES = re.compile(r"[\t\n\r]*/[\t\n\r]*/")
# ... and where the authority ends.
_SPECIAL_AUTHORITY_END = re.compile(r"[/\\?#]")
_AUTHORITY_END = re.compile(r"[/?#]")


def read(text: str) -> str:
    """A name or value as a server reads it: `+` is a space, escapes decoded as UTF-8 (errors replaced), and tab
    and newlines dropped as the URL parser drops them. What `parse_qsl` gives."""
    if "%" not in text and "+" not in text and text.isprintable():
        return text  # nothing to decode or drop: most names and values
    return unquote_plus(text.translate(DROPPED))


def parameters(
    text: str, start: int = 0, end: int | None = None, legacy: bool = False
) -> Iterator[tuple[str, int, int]]:
    """The parameters of a query, fragment or form in `text[start:end]`, as (decoded name, start, end of the value
    as written), split on `&` only, as `parse_qsl` and WHATWG URLSearchParams split them (`;` is part of a
    value); a name without `=` has an empty value. Values are decoded (`read`) only where they are needed.
    `legacy`: split on `;` too, as some servers still do (Python's before 3.9.2, HTML 4's recommendation)."""
    component = text[start:end]
    at = start
    for piece in (component.replace(";", "&") if legacy else component).split("&"):
        if piece:
            name, equals, _ = piece.partition("=")
            yield read(name), at + len(name) + len(equals), at + len(piece)
        at += len(piece) + 1


def pairs(text: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of a query or form, as `parse_qsl(text, keep_blank_values=True)` gives them."""
    return [(name, read(text[start:end])) for name, start, end in parameters(text)]


def query_and_fragment(url: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """Where the query and the fragment of a URL (or reference) lie, without their `?` and `#`: the query after the
    first `?`, the fragment after the first `#` (an authority or path never holds either)."""
    hash_at = url.find("#")
    query_end = len(url) if hash_at < 0 else hash_at
    question = url.find("?", 0, query_end)
    query = (question + 1, query_end) if question >= 0 else None
    return query, (hash_at + 1, len(url)) if hash_at >= 0 else None


def query(url: str) -> str:
    span = query_and_fragment(url)[0]
    return url[span[0] : span[1]] if span else ""


def userinfo(url: str) -> tuple[int, int] | None:
    """Where the userinfo of a URL (or reference) lies, for every spelling a WHATWG parser reads one in: after
    `scheme://`; after any slashes or backslashes following a special scheme, or none (`http:\\\\u:p@h`, and
    `https:u:p@h` on an http page); after two or more starting a reference (`//u:p@h`, `/\\u:p@h`). It runs up to
    the last `@` before the authority ends (at `/`, `\\` for special schemes, `?` or `#`). Where a browser would read
    a path instead (`http:u:p@h` on an http page), this still says userinfo: better over-redacted than leaked."""
    start = _LEADING.match(url).end()
    scheme = _SCHEME.match(url, start)
    special = True
    if scheme is not None:
        special = scheme.group().translate(DROPPED)[:-1].lower() in _SPECIAL_SCHEMES
        start = scheme.end()
        if not special:
            slashes = _TWO_SLASHES.match(url, start)
            if slashes is None:
                return None
            start = slashes.end()
    if special:
        slashes = _SLASHES.match(url, start)
        if scheme is None and len(slashes.group().translate(DROPPED)) < 2:
            return None  # a path, or no reference with an authority
        start = slashes.end()
    end = (_SPECIAL_AUTHORITY_END if special else _AUTHORITY_END).search(url, start)
    at = url.rfind("@", start, end.start() if end else len(url))
    return (start, at) if at >= 0 else None
