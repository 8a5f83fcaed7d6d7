"""A bare HTTP/1.1 client on asyncio sockets, for tests that need what library clients do not give: many
concurrent clients in one process, a chosen source address (any 127.0.0.N on Linux: the proxy takes the peer
address for the client's identity), any method, body and header bytes, and no redirect logic of its own."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


class ProxyConnection:
    """One connection to an explicit proxy, requests in absolute form, one at a time (keep-alive)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, proxy_port: int, source: str = "127.0.0.1") -> ProxyConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port, local_addr=(source, 0), limit=1 << 20)
        return cls(reader, writer)

    async def request(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: list[tuple[str, str]] = (),
        keep_alive: bool = True,
        timeout: float = 30.0,
    ) -> Answer:
        head = [f"{method} {url} HTTP/1.1", f"Host: {urlsplit(url).netloc}"]
        head += [f"{name}: {value}" for name, value in headers]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        if not keep_alive:
            head.append("Connection: close")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()
        return await asyncio.wait_for(self._answer(method), timeout)

    async def _answer(self, method: str) -> Answer:
        status_line, *lines = (await self.reader.readuntil(b"\r\n\r\n"))[:-4].split(b"\r\n")
        headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(b":") for line in lines)]
        answer = Answer(int(status_line.split()[1]), headers, b"")
        length = answer.header(b"content-length")
        if method == "HEAD" or answer.status in (204, 304):
            return answer
        body = await (self.reader.readexactly(int(length)) if length is not None else self.reader.read())
        return Answer(answer.status, headers, body)

    def close(self) -> None:
        self.writer.close()


async def exchange(
    proxy_port: int,
    method: str,
    url: str,
    body: bytes = b"",
    headers: list[tuple[str, str]] = (),
    source: str = "127.0.0.1",
    timeout: float = 30.0,
) -> Answer:
    """One request on a connection of its own from `source`, and the proxy's answer."""
    connection = await ProxyConnection.open(proxy_port, source)
    try:
        return await connection.request(method, url, body, headers, keep_alive=False, timeout=timeout)
    finally:
        connection.close()
