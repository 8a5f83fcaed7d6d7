"""HAR 1.2 files (Chrome/Chromium and Firefox DevTools, Playwright's record_har_path) as engine records.

Read tolerantly, because real exports vary: postData with params but no text, base64 bodies, HTTP/2
pseudo-headers in the header list, a Location given only as `redirectURL`, missing optional fields, an
empty entry list, a byte-order mark. The file is read as a stream of JSON values, one entry decoded at a
time and never the whole document, so memory stays near the size of the records, and a truncated file
still yields every complete entry before the cut, then a RecordingError that says where it broke. A HAR
has no client identity: each file is one client, in startedDateTime order.
"""

from __future__ import annotations

import base64
import codecs
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import urlencode

from ..engine.model import EARLIEST, LATEST, RECORDING_CLIENT, Body, Exchange, Headers, Request, Response, header
from ..errors import RecordingError


class HarReader:
    """(request, response or None) per entry, in startedDateTime order (ties keep file order).

    The whole file is read before the first record, since a HAR need not be in time order; a break in it
    is raised after the records read before it. `skipped` counts entries too malformed to use (not an
    object, no request or URL, no usable startedDateTime); entries that never crossed a proxy (data:,
    blob:, extension URLs) are left out without counting.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.skipped = 0
        self.position = 0  # bytes read: the whole file before the first record

    def __iter__(self) -> Iterator[Exchange]:
        self.skipped = self.position = 0
        records: list[Exchange] = []
        broken: RecordingError | None = None
        try:
            with open(self.path, "rb") as file:
                for index, entry in _entries(file, self.path):
                    record = self._record(index, entry)
                    if record is not None:
                        records.append(record)
                self.position = file.tell()
        except OSError as error:  # opening it: reading errors are breaks in the JSON
            broken = RecordingError(self.path, "open", error.strerror or str(error))
        except RecordingError as error:
            broken = error
            broken.records_before = len(records)
        records.sort(key=lambda record: record[0].time)  # stable: ties keep file order
        yield from records
        if broken is not None:
            raise broken

    def _record(self, index: int, entry: object) -> Exchange | None:
        """The entry as the proxy would have recorded it, or None to leave it out (counted if malformed)."""
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(request, dict):
            self.skipped += 1
            return None
        url = request.get("url")
        scheme = _SCHEME.match(url) if isinstance(url, str) else None
        started = _time(entry.get("startedDateTime"))
        if scheme is None or started is None:
            self.skipped += 1
            return None
        wire_scheme = _WIRE_SCHEMES.get(scheme.group(1).lower())
        if wire_scheme is None:
            return None
        method = request.get("method")
        connection = entry.get("connection")
        return Request(
            flow_id=f"{self.name}#{index}",
            client=RECORDING_CLIENT,
            method=_wire(method.upper()) if isinstance(method, str) and method else "GET",
            url=_wire(wire_scheme + url[scheme.end() - 1 :].partition("#")[0]),  # fragments never travel
            headers=_request_headers(request),
            body=_body(request),
            time=started,
            connection=connection if isinstance(connection, str) and connection else None,
        ), _response(entry, started)


# A URL's scheme, and the one the proxy sees: a WebSocket handshake is an http(s) request to it.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_WIRE_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def _time(value: object) -> float | None:
    """startedDateTime in seconds. Exporters differ in precision and in `Z` against an offset; a time
    without a zone is taken as UTC, so that a recording reads the same on every machine."""
    if not isinstance(value, str):
        return None
    try:
        started = datetime.fromisoformat(value.strip())
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        seconds = started.timestamp()
    except (ValueError, OverflowError):
        return None
    return seconds if EARLIEST <= seconds <= LATEST else None


def _wire(text: str) -> str:
    """The string as mitmproxy would hold it. JSON can carry lone surrogates (`\\ud83d` of a cut emoji),
    which no wire does: they become the bytes a client would send, decoded as mitmproxy decodes them, so
    the engine can always encode them back."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogateescape")
    return text


def _string(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


def _headers(items: object) -> tuple[Headers, str | None]:
    """(lower-case name, value) pairs without HTTP/2 pseudo-headers, which are not headers on the wire;
    and the value of `:authority`, which may stand for Host. (The hot loop of reading: plain ASCII
    strings, nearly all of them, skip the helpers.)"""
    headers = []
    authority = None
    for item in items if isinstance(items, list) else ():
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            continue
        value = item.get("value")
        if not isinstance(value, str) or not value.isascii():
            value = _wire(_string(value))
        if name[0] != ":":
            headers.append((name.lower() if name.isascii() else _wire(name.lower()), value))
        elif name == ":authority":
            authority = value
    return tuple(headers), authority


def _request_headers(request: dict) -> Headers:
    """The headers as sent, also where the export leaves some out: Host from HTTP/2's `:authority`, and
    Content-Type from postData's mimeType (Chrome's provisional headers lack it; credentials are found by it)."""
    headers, authority = _headers(request.get("headers"))
    if authority and header(headers, "host") is None:
        headers = (("host", authority), *headers)
    post = request.get("postData")
    mime_type = post.get("mimeType") if isinstance(post, dict) else None
    if isinstance(mime_type, str) and mime_type and header(headers, "content-type") is None:
        headers = (*headers, ("content-type", _wire(mime_type)))
    return headers


def _pairs(items: object) -> list[tuple[str, str]]:
    return [
        (_wire(_string(item.get("name"))), _wire(_string(item.get("value"))))
        for item in (items if isinstance(items, list) else ())
        if isinstance(item, dict) and item.get("name") is not None
    ]


def _integer(value: object) -> int | None:
    """A count or status, also when an exporter wrote it as a float or a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        try:
            return int(value)
        except ValueError:  # digits int() does not read (`²`), or more than Python converts
            return None
    return None


def _body(request: dict) -> Body:
    """The request body from postData: its text (base64-decoded when so marked), else its params joined as
    a form would send them (the length and the credential fields are still right). A body the export
    only sized (`bodySize` > 0 with nothing to read) is unknown, as a streamed body is live."""
    post = request.get("postData")
    size = _integer(request.get("bodySize"))
    sized = size is not None and size > 0
    if isinstance(post, dict):
        text = post.get("text")
        if isinstance(text, str) and (text or not sized):
            return _exported(text, post.get("encoding"))
        params = _pairs(post.get("params"))
        if params:
            return Body.of(urlencode(params, errors="surrogateescape").encode())
    return Body(None) if sized else Body.of(b"")


def _response(entry: dict, started: float) -> Response | None:
    """None when the exchange got no response (status 0 or absent: blocked, failed, aborted)."""
    response = entry.get("response")
    if not isinstance(response, dict):
        return None
    status = _integer(response.get("status"))
    if status is None or status <= 0:
        return None
    headers, _ = _headers(response.get("headers"))
    redirect_url = response.get("redirectURL")
    if isinstance(redirect_url, str) and redirect_url and header(headers, "location") is None:
        headers = (*headers, ("location", _wire(redirect_url)))
    return Response(status=status, headers=headers, time=_finished(started, entry.get("time")), body=_content(response))


def _content(response: dict) -> Body:
    """The response's content as exported; unknown when it was not."""
    content = response.get("content")
    text = content.get("text") if isinstance(content, dict) else None
    return _exported(text, content.get("encoding")) if isinstance(text, str) else Body(None)


def _exported(text: str, encoding: object) -> Body:
    """A body as a HAR holds it: text, base64-decoded when so marked."""
    if encoding == "base64":
        try:
            return Body.of(base64.b64decode(text))
        except ValueError:  # binascii.Error, or characters outside ASCII
            return Body(None)
    return Body.of(_wire(text).encode("utf-8", "surrogateescape"))


def _finished(started: float, elapsed: object) -> float:
    """When the response was complete: start + `time` ms; the start itself when `time` is missing, -1 or
    absurd (not a number, or ending past the dates reports can print)."""
    if isinstance(elapsed, bool) or not isinstance(elapsed, int | float):
        return started
    # compared before dividing: an integer of 400 digits is too large for a float
    return started + elapsed / 1000 if 0 < elapsed <= (LATEST - started) * 1000 else started


class _Broken(Exception):
    """Where reading stopped making sense: `offset` is the byte reading stopped at (the start of the value
    being read), `reason` None when the file simply ends too early, else what is wrong (of `kind`) at
    byte `at`."""

    def __init__(self, offset: int, reason: str | None = None, at: int = 0, kind: str = "invalid JSON") -> None:
        super().__init__(reason)
        self.offset, self.reason, self.at, self.kind = offset, reason, at, kind

    def describe(self) -> str:
        return "truncated JSON" if self.reason is None else f"{self.kind} ({self.reason} at byte {self.at})"


def _entries(file: BinaryIO, path: str) -> Iterator[tuple[int, object]]:
    """log.entries as (index in the file, decoded entry), one at a time. The rest of the document is
    read and dropped, so that a file cut after its last entry still says it is incomplete."""
    count = 0
    phase = "before"  # before | entries | after (the entry list)
    try:
        stream = _JsonStream(file)
        if (first := stream.peek()) != "{":
            what = {"": "empty file", "[": "not a HAR file (a JSON array: HAR is an object)"}
            raise RecordingError(path, f"byte {stream.offset()}", what.get(first, "not JSON, or not a HAR file"))
        for key in stream.members():
            if key != "log" or phase != "before":
                stream.value()
                continue
            _expect(stream, "{", path, "log is not an object")
            for key in stream.members():
                if key != "entries" or phase != "before":
                    stream.value()
                    continue
                _expect(stream, "[", path, "log.entries is not a list")
                phase = "entries"
                for entry in stream.items():
                    yield count, entry
                    count += 1
                phase = "after"
        if stream.peek() != "":
            raise stream.unexpected("the end of the file")
    except _Broken as broken:
        if phase == "before":
            if broken.reason is None:
                raise RecordingError(path, f"byte {broken.offset}", "truncated before log.entries") from None
            kind = "not JSON" if broken.kind == "invalid JSON" else broken.kind
            raise RecordingError(path, f"byte {broken.at}", f"{kind} ({broken.reason})") from None
        where = f"entry {count + 1}" if phase == "entries" else "after the entries"
        raise RecordingError(path, f"{where} (byte {broken.offset})", broken.describe()) from None
    if phase == "before":
        raise RecordingError(path, "log.entries", "not a HAR file (no log.entries list)")


def _expect(stream: _JsonStream, char: str, path: str, otherwise: str) -> None:
    found = stream.peek()
    if found == "":
        raise _Broken(stream.offset())
    if found != char:
        raise RecordingError(path, f"byte {stream.offset()}", f"not a HAR file ({otherwise})")


_SPACE = re.compile(r"[ \t\r\n]*")
_STRUCTURE = re.compile(r'[{}\[\],:"]')
_DECODER = json.JSONDecoder()
_CHUNK = 1 << 20


class _JsonStream:
    """JSON read from a file a value at a time with raw_decode, over a window of text that grows only as
    far as the value being read needs (doubling, so a huge entry still costs linear time)."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._decode = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode
        self._text = ""
        self._at = 0  # read position in _text
        self._base = 0  # byte offset of _text[0] in the file
        self._eof = False
        self._fill(0)
        if self._text.startswith("\ufeff"):  # a byte-order mark, as Windows tools write
            self._at = 1

    def _fill(self, at_least: int) -> None:
        try:
            data = self._file.read(max(_CHUNK, at_least))
        except OSError as error:
            raise _Broken(self.offset(), error.strerror or str(error), self.offset(), "read error") from None
        self._base = self.offset()
        self._text = self._text[self._at :] + self._decode(data, final=not data)
        self._at = 0
        self._eof = not data

    def offset(self, position: int | None = None) -> int:
        """The byte offset in the file of a position in the window (the read position by default)."""
        done = self._text[: self._at if position is None else position]
        return self._base + (len(done) if done.isascii() else len(done.encode("utf-8", "surrogateescape")))

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the file), not consumed."""
        while True:
            self._at = _SPACE.match(self._text, self._at).end()
            if self._at < len(self._text):
                return self._text[self._at]
            if self._eof:
                return ""
            self._fill(0)

    def value(self) -> object:
        """The next value, read further into the file until it is whole (a number or literal at the end of
        the window might go on in the next chunk)."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._at)
            except json.JSONDecodeError as error:
                if self._eof:
                    raise self._invalid(error) from None
            except RecursionError:
                raise _Broken(self.offset(), "nested too deeply", self.offset()) from None
            except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
                raise _Broken(self.offset(), "a number too long to read", self.offset(), "unreadable JSON") from None
            else:
                if end < len(self._text) or self._eof:
                    self._at = end
                    return value
            self._fill(len(self._text) - self._at)

    def members(self) -> Iterator[str]:
        """The keys of the object at the read position; the caller reads each value before the next key.
        A trailing comma is let pass, as in items()."""
        self._at += 1  # the "{" peeked by the caller
        while (char := self.peek()) != "}":
            if char != '"':
                raise self.unexpected("a key")
            key = self.value()
            if self.peek() != ":":
                raise self.unexpected("':'")
            self._at += 1
            yield str(key)
            if (char := self.peek()) == ",":
                self._at += 1
            elif char != "}":
                raise self.unexpected("',' or '}'")
        self._at += 1

    def items(self) -> Iterator[object]:
        """The values of the array at the read position, each decoded on its own."""
        self._at += 1  # the "[" peeked by the caller
        while self.peek() != "]":
            yield self.value()
            if (char := self.peek()) == ",":
                self._at += 1
            elif char != "]":
                raise self.unexpected("',' or ']'")
        self._at += 1

    def unexpected(self, wanted: str) -> _Broken:
        if self.peek() == "":
            return _Broken(self.offset())
        return _Broken(self.offset(), f"expected {wanted}", self.offset())

    def _invalid(self, error: json.JSONDecodeError) -> _Broken:
        """A decoding error at the end of the file: a cut when nothing but the cut value's tail follows it."""
        rest = self._text[error.pos :]
        if error.msg.startswith("Unterminated string") or (len(rest) < 24 and not _STRUCTURE.search(rest)):
            return _Broken(self.offset())
        return _Broken(self.offset(), error.msg, self.offset(error.pos))
