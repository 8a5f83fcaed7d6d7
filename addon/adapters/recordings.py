"""Recordings as engine records: mitmproxy flow files (every format the installed mitmproxy reads) and HAR.

Flow files are read with mitmproxy's FlowReader, without running flows through mitmproxy's addons: that
deserialisation is the practical limit of how fast a recording can be analysed. The kind is sniffed from
the first byte: HAR is JSON (`{`), a flow file is a tnetstring.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from mitmproxy import exceptions, http, io

from ..engine.model import Request, Response
from .flows import request_of, response_of
from .har import HarReader, RecordingError

__all__ = ["FlowFileReader", "HarReader", "RecordingError", "open_recording", "size"]

Exchange = tuple[Request, Response | None]


class FlowFileReader:
    """The HTTP flows of a mitmproxy flow file; `position` is the byte offset read so far (for progress)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.position = 0

    def __iter__(self) -> Iterator[Exchange]:
        index = 0
        try:
            with open(self.path, "rb") as file:
                try:
                    for flow in io.FlowReader(file).stream():
                        self.position = file.tell()
                        index += 1
                        if isinstance(flow, http.HTTPFlow):
                            yield request_of(flow), response_of(flow) if flow.response else None
                except exceptions.FlowReadException as error:
                    where = f"flow {index + 1} (after byte {self.position})"
                    raise RecordingError(self.path, where, f"corrupt or truncated flow file: {error}") from None
        except OSError as error:
            raise RecordingError(self.path, "open", str(error)) from None


def open_recording(path: str) -> FlowFileReader | HarReader:
    try:
        with open(path, "rb") as file:
            head = file.read(64).lstrip()
    except OSError as error:
        raise RecordingError(path, "open", error.strerror or str(error)) from None
    if not head:
        raise RecordingError(path, "start", "empty file")
    return HarReader(path) if head.startswith(b"{") else FlowFileReader(path)


def size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
