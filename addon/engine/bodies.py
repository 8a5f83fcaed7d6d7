"""Request bodies read for credential fields within a budget of bytes.

Content codings are undone by incremental decoders told to stop one byte past the budget, so a gzip bomb costs
what the budget allows, never what it expands to; multipart/form-data is read by a real parser (`multipart`),
which scans each boundary and header line once. What cannot be read this way raises `Unreadable`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotlicffi
import multipart
import zstandard

# RFC 9659: a zstd content coding needs no window beyond 8 MB; a frame asking for more is refused, not allocated.
_ZSTD_MAX_WINDOW = 8 * 1024 * 1024
# Each coding decodes up to the budget: a long list (`gzip, gzip, ...`) would multiply the work. Real clients send one.
_MAX_CODINGS = 2
_GZIP, _ZLIB, _RAW_DEFLATE = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS


class Unreadable(ValueError):
    """The body may hold credentials, but it cannot be read within the budget, or in a form this reads."""


def decoded(data: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body with its content codings undone (the last applied first), at most `limit` bytes."""
    codings = [coding.strip().lower() for coding in (content_encoding or "").split(",")]
    codings = [coding for coding in codings if coding not in ("", "identity")]
    if len(codings) > _MAX_CODINGS:
        raise Unreadable("too many content codings")
    for coding in reversed(codings):
        decode = _DECODERS.get(coding)
        if decode is None:
            raise Unreadable("a content coding this does not decode")
        try:
            data = decode(data, limit)
        except (zlib.error, brotlicffi.error, zstandard.ZstdError):
            raise Unreadable("a corrupt or truncated encoded body") from None
    if len(data) > limit:
        raise Unreadable("larger than the parse budget")
    return data


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """zlib, raw deflate or gzip (every member of a multi-member file), stopping past `limit`."""
    out = bytearray()
    while True:
        decoder = zlib.decompressobj(wbits)
        pending = data
        while pending and not decoder.eof:
            out += decoder.decompress(pending, limit + 1 - len(out))
            if len(out) > limit:
                raise Unreadable("decodes past the parse budget")
            pending = decoder.unconsumed_tail
        if not decoder.eof:
            raise zlib.error("truncated")
        data = decoder.unused_data
        if wbits != _GZIP or not data:
            return bytes(out)


def _deflate(data: bytes, limit: int) -> bytes:
    """`deflate` is zlib-wrapped by the standard, raw by some servers: as mitmproxy, try one, then the other."""
    try:
        return _inflate(data, _ZLIB, limit)
    except zlib.error:
        return _inflate(data, _RAW_DEFLATE, limit)


def _brotli(data: bytes, limit: int) -> bytes:
    decoder = brotlicffi.Decompressor()
    out = decoder.decompress(data, output_buffer_limit=limit + 1)
    if len(out) <= limit and not decoder.is_finished():
        raise brotlicffi.error("truncated")
    return out


def _zstd(data: bytes, limit: int) -> bytes:
    decoder = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
    out = bytearray()
    with decoder.stream_reader(data, read_across_frames=True) as reader:
        while len(out) <= limit and (chunk := reader.read(limit + 1 - len(out))):
            out += chunk
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": lambda data, limit: _inflate(data, _GZIP, limit),
    "x-gzip": lambda data, limit: _inflate(data, _GZIP, limit),
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}


def multipart_fields(data: bytes, content_type: str, names: frozenset[str]) -> dict[str, bytes]:
    """The values of the parts of a multipart/form-data body whose names (case-insensitive) are in `names`."""
    boundary = multipart.parse_options_header(content_type)[1].get("boundary")
    if not boundary:
        raise Unreadable("multipart without a boundary")
    found: dict[str, bytes] = {}
    name, chunks = None, []
    try:
        with multipart.PushMultipartParser(boundary) as parser:
            for event in parser.parse(data):
                if isinstance(event, multipart.MultipartSegment):
                    name, chunks = (event.name if event.name.lower() in names else None), []
                elif event is None:  # the end of a part
                    if name is not None:
                        found[name] = b"".join(chunks)
                elif name is not None:
                    chunks.append(event)
    except multipart.MultipartError:
        raise Unreadable("a multipart body its parser refuses") from None
    return found
