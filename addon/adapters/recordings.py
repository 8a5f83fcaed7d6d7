"""Recordings as engine records: mitmproxy flow files (every format the installed mitmproxy reads) and HAR.

Flow files are read as mitmproxy's FlowReader reads them (tnetstring, then migrated to this mitmproxy's
format), without building whole flows and without running them through mitmproxy's addons. The kind is
sniffed from the first byte: HAR is JSON (`{`), a flow file is a tnetstring.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, BinaryIO

from mitmproxy.io import compat, tnetstring

from ..engine.model import Exchange
from .flows import exchange_of_state
from .har import HarReader, RecordingError

__all__ = ["FlowFileReader", "HarReader", "RecordingError", "open_recording", "size"]


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
                    for state in _states(file):
                        self.position = file.tell()
                        index += 1
                        exchange = exchange_of_state(state)
                        if exchange is not None:
                            yield exchange
                except (ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
                    # tnetstring and the migration say what is wrong in a ValueError; anything else means a
                    # well-formed value that is not a flow's state
                    detail = str(error) if isinstance(error, ValueError) else "not a saved flow"
                    where = f"flow {index + 1} (after byte {self.position})"
                    raise RecordingError(self.path, where, f"corrupt or truncated flow file ({detail})") from None
        except OSError as error:
            raise RecordingError(self.path, "open", str(error)) from None


def _states(file: BinaryIO) -> Iterator[dict[str, Any]]:
    """Each saved flow's state, migrated to this mitmproxy's format, as in mitmproxy's FlowReader.stream."""
    while True:
        try:
            state = tnetstring.load(file)
        except ValueError as error:
            if str(error) == "not a tnetstring: empty file":  # the end, between two flows
                return
            raise
        except IndexError:  # tnetstring read past the end for the value's type byte
            raise ValueError("the file ends inside this flow") from None
        yield compat.migrate_flow(state)


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
