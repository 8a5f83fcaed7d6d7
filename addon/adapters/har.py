"""HAR 1.2 files (Chrome/Chromium and Firefox DevTools, Playwright's record_har_path) as engine records.

Read tolerantly, because real exports vary: postData with params but no text, base64 bodies, HTTP/2
pseudo-headers in the header list, a Location given only as `redirectURL`, missing optional fields, an
empty entry list. A truncated file yields every complete entry before the cut, then a RecordingError that
says where it broke. A HAR has no client identity: each file is one client, ordered by startedDateTime.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlencode

from ..engine.model import Body, Request, Response
from .flows import RECORDING_CLIENT


class RecordingError(Exception):
    """A recording is unreadable from some point on; the message names the file and where it broke."""

    def __init__(self, path: str, where: str, message: str) -> None:
        super().__init__(f"{path}: {where}: {message}")
        self.path, self.where, self.message = path, where, message


_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\r\n"


class HarReader:
    """Iterate (request, response-or-None) per entry. `skipped` counts entries unusable on their own."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.skipped = 0

    def __iter__(self) -> Iterator[tuple[Request, Response | None]]:
        try:
            with open(self.path, encoding="utf-8", errors="surrogateescape") as file:
                text = file.read()
        except OSError as error:
            raise RecordingError(self.path, "open", error.strerror or str(error)) from None
        entries, broken = self._entries(text)
        records = []
        for index, entry in entries:
            record = self._record(index, entry)
            if record is None:
                self.skipped += 1
            else:
                records.append(record)
        records.sort(key=lambda record: record[0].time)  # stable: ties keep file order
        yield from records
        if broken is not None:
            raise broken

    def _entries(self, text: str) -> tuple[list[tuple[int, object]], RecordingError | None]:
        """The entries, decoded one at a time so that a cut file still gives everything before the cut."""
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            entries = (document.get("log") or {}).get("entries") if isinstance(document.get("log"), dict) else None
            if not isinstance(entries, list):
                raise RecordingError(self.path, "log.entries", "not a HAR file (no log.entries list)")
            return list(enumerate(entries)), None
        return self._salvage(text)

    def _salvage(self, text: str) -> tuple[list[tuple[int, object]], RecordingError]:
        start = text.find('"entries"')
        bracket = text.find("[", start) if start >= 0 else -1
        if not text.lstrip().startswith("{") or bracket < 0:
            raise RecordingError(self.path, "byte 0", "not JSON, or not a HAR file (no log.entries)")
        entries: list[tuple[int, object]] = []
        position = bracket + 1
        while True:
            while position < len(text) and text[position] in _WHITESPACE + ",":
                position += 1
            if position < len(text) and text[position] == "]":
                # the entries are whole; the break is after them
                return entries, RecordingError(self.path, f"after entry {len(entries)}", "truncated or corrupt JSON")
            try:
                entry, position = _DECODER.raw_decode(text, position)
            except ValueError:
                where = f"entry {len(entries)} (byte {len(text[:position].encode('utf-8', 'surrogateescape'))})"
                return entries, RecordingError(self.path, where, "truncated or corrupt JSON")
            entries.append((len(entries), entry))

    def _record(self, index: int, entry: object) -> tuple[Request, Response | None] | None:
        if not isinstance(entry, dict):
            return None
        request = entry.get("request")
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            return None
        started = _time(entry.get("startedDateTime"))
        if started is None:
            return None
        headers = _headers(request.get("headers"))
        if not any(name == "host" for name, _ in headers):
            authority = next((v for n, v in _pairs(request.get("headers")) if n.lower() == ":authority"), None)
            if authority:
                headers = (("host", authority), *headers)
        flow_id = f"{self.name}#{index}"
        engine_request = Request(
            flow_id=flow_id,
            client=RECORDING_CLIENT,
            method=str(request.get("method") or "GET").upper(),
            url=request["url"],
            headers=headers,
            body=_body(request),
            time=started,
        )
        return engine_request, _response(entry, started)


def _time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _pairs(items: object) -> Iterator[tuple[str, str]]:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                yield item["name"], str(item.get("value", ""))


def _headers(items: object) -> tuple[tuple[str, str], ...]:
    return tuple((name.lower(), value) for name, value in _pairs(items) if not name.startswith(":"))


def _body(request: dict) -> Body:
    post = request.get("postData")
    if isinstance(post, dict):
        text = post.get("text")
        if isinstance(text, str):
            if post.get("encoding") == "base64":
                try:
                    return Body.of(base64.b64decode(text, validate=False))
                except (binascii.Error, ValueError):
                    return Body(None)
            return Body.of(text.encode("utf-8", "surrogateescape"))
        params = list(_pairs(post.get("params")))
        if params:
            return Body.of(urlencode(params).encode())
    size = request.get("bodySize")
    if isinstance(size, int) and size > 0:
        return Body(None)  # a body was sent, but the export does not hold it
    return Body.of(b"")


def _response(entry: dict, started: float) -> Response | None:
    response = entry.get("response")
    if not isinstance(response, dict):
        return None
    status = response.get("status")
    if not isinstance(status, int) or status <= 0:
        return None
    headers = _headers(response.get("headers"))
    redirect_url = response.get("redirectURL")
    if isinstance(redirect_url, str) and redirect_url and not any(name == "location" for name, _ in headers):
        headers = (*headers, ("location", redirect_url))
    elapsed = entry.get("time")
    duration = elapsed / 1000 if isinstance(elapsed, int | float) and elapsed > 0 else 0.0
    return Response(status=status, headers=headers, time=started + duration)
