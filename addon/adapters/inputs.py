"""The input formats `redirect-audit analyze` reads, declared in one registry, and how a file's format is told.

An input format is a reader class, given a path, that
- yields the recording's exchanges, `(Request, Response or None)` as `engine.model` defines them, in the order the
  proxy would have seen them (None: the request got no response);
- says how far it has read in `position` (bytes of the file, for the progress bar);
- raises `errors.RecordingError`, naming the file and where it broke (record number counted from 1, byte offset,
  the field), never with the file's content, after yielding every record read before the break.
Adding a format is one reader module and one entry in FORMATS, with the first bytes that tell it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from ..engine.model import Exchange
from ..errors import RecordingError
from .flowfile import FlowFileReader
from .har import HarReader


class Reader(Protocol):
    position: int

    def __iter__(self) -> Iterator[Exchange]: ...


@dataclass(frozen=True)
class Format:
    name: str
    reader: Callable[[str], Reader]
    starts: Callable[[bytes], bool]  # whether a file whose first bytes (after a BOM and whitespace) are these is one


FORMATS: dict[str, Format] = {
    reader.name: reader
    for reader in (
        # JSON: the HAR reader says what is wrong if it is not HAR (a JSON array, say)
        Format("HAR", HarReader, lambda head: head[:1] in (b"{", b"[")),
        Format("mitmproxy flow file", FlowFileReader, lambda head: head[:1].isdigit()),  # a tnetstring's length
    )
}


def open_recording(path: str) -> Reader:
    """The reader for the file's format, told by its first bytes after a byte-order mark and whitespace."""
    try:
        with open(path, "rb") as file:
            offset, head = _head(file)
    except OSError as error:
        raise RecordingError(path, "open", error.strerror or str(error)) from None
    for candidate in FORMATS.values():
        if head and candidate.starts(head):
            return candidate.reader(path)
    if not head:
        raise RecordingError(path, f"byte {offset}", "empty file")
    looks = next((kind for magic, kind in _LOOKS if head.startswith(magic)), None)
    looks = looks or ("text" if _PRINTABLE.fullmatch(head) else "binary data")
    raise RecordingError(path, f"byte {offset}", f"neither a HAR file nor a flow file (it looks like {looks})")


_BOM = b"\xef\xbb\xbf"
_SPACE = b" \t\r\n"  # JSON's whitespace
_PRINTABLE = re.compile(rb"[\t\n\r\x20-\x7e]*")
_CHUNK = 1 << 16
_LOOKS = [
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"PK\x03\x04", "a zip archive"),
    (b"<", "HTML or XML"),
]


def _head(file: BinaryIO) -> tuple[int, bytes]:
    """The byte offset of the first byte after a byte-order mark and whitespace, and a few bytes from it."""
    offset, data = 0, file.read(_CHUNK)  # offset: of data[0] in the file
    skip = len(_BOM) if data.startswith(_BOM) else 0
    while data:
        head = data[skip:].lstrip(_SPACE)
        if head:
            return offset + len(data) - len(head), head[:16]
        offset, skip, data = offset + len(data), 0, file.read(_CHUNK)
    return offset, b""


def size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
