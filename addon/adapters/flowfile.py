"""mitmproxy flow files (every format the installed mitmproxy reads) as engine records.

Flow files are read as mitmproxy's FlowReader reads them (tnetstring, then migrated to this mitmproxy's
format), without building whole flows and without running them through mitmproxy's addons. The tnetstring
reader is this module's own: mitmproxy's recurses (deep nesting is a RecursionError), trusts length prefixes
(a huge one is a MemoryError) and quotes the data in its errors (the password of a form body, printed). This
one is iterative with a bounded depth, checks every length against the bytes there are, and says where it
broke by byte offset and the field being read, never by content.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from mitmproxy import version
from mitmproxy.io import compat

from ..engine.model import Exchange
from ..errors import RecordingError
from .flows import InvalidFlow, exchange_of_state


class FlowFileReader:
    """The HTTP flows of a mitmproxy flow file; `position` is the byte offset read so far (for progress)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.position = 0

    def __iter__(self) -> Iterator[Exchange]:
        self.position = flows = records = 0
        opened = False
        try:
            with open(self.path, "rb") as file:
                opened = True
                for start, state in _states(file, os.fstat(file.fileno()).st_size):
                    flows += 1
                    self.position = file.tell()
                    try:
                        exchange = exchange_of_state(_migrated(state))
                    except InvalidFlow as invalid:
                        where = f"flow {flows} (byte {start})"
                        raise RecordingError(self.path, where, f"not a valid flow ({invalid})", records) from None
                    if exchange is not None:
                        records += 1
                        yield exchange
        except _Corrupt as corrupt:
            where = f"flow {flows + 1} (byte {self.position})"
            raise RecordingError(self.path, where, f"corrupt or truncated flow file ({corrupt})", records) from None
        except OSError as error:
            reason = error.strerror or str(error)
            if not opened:
                raise RecordingError(self.path, "open", reason) from None
            where = f"flow {flows + 1} (byte {self.position})"
            raise RecordingError(self.path, where, f"read error ({reason})", records) from None


class _Corrupt(Exception):
    """Where a tnetstring stops making sense: the byte offset in the file, the field being read (a key path
    such as `request.content`; empty at the top), what is wrong. Never the data."""

    def __init__(self, at: int | None, field: str, problem: str) -> None:
        place = " ".join(part for part in (field, "" if at is None else f"at byte {at}") if part)
        super().__init__(f"{place}: {problem}" if place else problem)


_MAX_DIGITS = 12  # of a length prefix, as mitmproxy's reader allows
_MAX_DEPTH = 100  # far deeper than any saved flow, far shallower than the recursion the migration may do
_LIST, _DICT, _BYTES, _TEXT, _INT, _FLOAT, _BOOL, _NULL = b"]},;#^!~"
_KEY = object()  # the pending key of a dictionary whose next value is a key


def _states(file: BinaryIO, size: int) -> Iterator[tuple[int, Any]]:
    """Each top-level tnetstring of the file, with the byte offset it starts at. A flow is read whole (as
    mitmproxy reads it), but only once its length is known to fit in what is left of the file."""
    offset = 0
    while char := file.read(1):
        digits = b""
        while char.isdigit() and len(digits) <= _MAX_DIGITS:
            digits, char = digits + char, file.read(1)
        if char != b":" or not digits or len(digits) > _MAX_DIGITS:
            raise _Corrupt(None, "", "no length prefix where a flow starts")
        start = offset + len(digits) + 1
        length = int(digits) + 1  # with the type byte
        data = file.read(length) if length <= size - start else b""
        if len(data) != length:
            raise _Corrupt(None, "", "the file ends inside this flow")
        yield offset, _state(data, start)
        offset = start + length


def _state(data: bytes, base: int) -> dict:
    """The dictionary of a top-level tnetstring whose content and type byte are `data` (at byte `base` of
    the file), as mitmproxy's tnetstring.load returns it. Containers are read with an explicit stack of
    frames: (container, the offset its content ends at, its pending key)."""
    limit = len(data) - 1
    if data[limit] != _DICT:
        raise _Corrupt(None, "", "not a saved flow")
    root: dict = {}
    stack: list[tuple[Any, int, Any]] = []
    container, key = root, _KEY
    position = 0
    find = data.find
    while True:
        if position == limit:  # the container is complete
            if key is not _KEY:
                raise _Corrupt(base + position, _path(stack, container, _KEY), "a key without a value")
            if not stack:
                return root
            value = container
            container, limit, key = stack.pop()
            position += 1  # past the finished container's type byte
        else:
            colon = find(b":", position, position + _MAX_DIGITS + 1)
            digits = data[position:colon] if colon > position else b""
            if not digits.isdigit():
                raise _Corrupt(base + position, _path(stack, container, key), "no length prefix")
            start = colon + 1
            stop = start + int(digits)
            if stop >= limit:
                raise _Corrupt(base + position, _path(stack, container, key), "a length beyond its container")
            tag = data[stop]
            if tag in (_LIST, _DICT):
                if key is _KEY and type(container) is dict:
                    raise _Corrupt(base + position, _path(stack, container, key), "a key that is a container")
                if len(stack) == _MAX_DEPTH:
                    raise _Corrupt(base + position, _path(stack, container, key), "nested too deeply")
                stack.append((container, limit, key))
                container, limit, key = ([] if tag == _LIST else {}), stop, _KEY
                position = start
                continue
            if tag == _BYTES:
                value = data[start:stop]
            else:
                try:  # text inline: every key is text
                    value = data[start:stop].decode() if tag == _TEXT else _scalar(tag, data[start:stop])
                except ValueError as error:  # (a UnicodeDecodeError's own message would quote a byte)
                    problem = "not UTF-8 text" if tag == _TEXT else str(error)
                    raise _Corrupt(base + position, _path(stack, container, key), problem) from None
            position = stop + 1
        if type(container) is list:
            container.append(value)
        elif key is _KEY:
            key = value
        else:
            container[key] = value
            key = _KEY


def _scalar(tag: int, content: bytes) -> Any:
    """A number, a boolean or null; a ValueError with a message of its own (never the content)."""
    try:
        if tag == _INT:
            return int(content)
        if tag == _FLOAT:
            return float(content)
    except ValueError:
        raise ValueError(f"not {_TYPE_NAMES[tag]}") from None
    if tag == _BOOL and content in (b"true", b"false"):
        return content == b"true"
    if tag == _NULL and not content:
        return None
    raise ValueError(f"not {_TYPE_NAMES[tag]}" if tag in _TYPE_NAMES else "a length that ends at no type byte")


_TYPE_NAMES = {_INT: "an integer", _FLOAT: "a number", _BOOL: "a boolean", _NULL: "null"}
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_PATH_LEVELS = 8


def _path(stack: list[tuple[Any, int, Any]], container: Any, key: Any) -> str:
    """The key path of the value being read (`request.headers[2][0]`), its first levels. Keys that are not
    plain names are shown as `?`: a key is data too."""
    frames = [*stack, (container, 0, key)]
    path = ""
    for frame, _, pending in frames[:_PATH_LEVELS]:
        if type(frame) is list:
            path += f"[{len(frame)}]"
        elif pending is not _KEY:
            name = pending.decode("latin-1") if isinstance(pending, bytes) else pending
            path += ("." if path else "") + (name if isinstance(name, str) and _FIELD_NAME.fullmatch(name) else "?")
    return path if len(frames) <= _PATH_LEVELS else path + "..."


def _migrated(state: dict) -> dict:
    """The state in this mitmproxy's format, as FlowReader migrates it."""
    try:
        return compat.migrate_flow(state)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):  # what a malformed old state raises
        found = state.get("version", state.get(b"version"))
        if isinstance(found, int) and version.FLOW_FORMAT_VERSION < found < 1000:
            raise InvalidFlow("version", f"format {found}: a newer mitmproxy than {version.VERSION} wrote it") from None
        raise InvalidFlow("version", f"not a flow of a format mitmproxy {version.VERSION} reads") from None
