"""The test suite's scenario upstream: the demo's (`redirect_audit.demo.upstream`), extended with every endpoint the
tests need, and a record of every request it receives, so a test can check what a client really sent on a
follow-up (and that a blocked one never arrived).

The demo's endpoints (/redirect, /go/, /chain/N, /loop/a and /loop/b, the echo), and:

    /redirect?...&cookie=...&loc2=...   Set-Cookie (repeatable), and a second Location
    /login?status=303&to=URL            an HTML login form whose POST is answered with that status and target
    /login?action=URL                   the same form, posting to URL
    /secure/...?status=307              over http, that status to the same URL over https (HTTPS enforcement,
                                        for a virtual host); over https, as anything else
    /setcookie?cookie=...               200 with Set-Cookie (repeatable)
    /cookie-gate?name=N                 without cookie N, 302 to itself setting it; with it, 200 (a login page)
    /raw/N                              the bytes registered with `raw()` verbatim, then the connection closes
                                        (or resets): answers no well-behaved server sends, and resets
    /hang                               no answer at all, until the peer hangs up or the upstream stops
Every answer allows CORS for the requesting Origin, so a browser's fetch() can exercise cross-origin
redirects too.

`ScenarioUpstream.virtual()` serves any host name instead, http and https on their default ports, to a
proxy that forwards to it as its upstream proxy (`mitmdump --mode upstream:<its address>`): requests
arrive in absolute form, https ones through a CONNECT tunnel. Named hosts make same-site, cross-site,
default ports and upper-case hosts real without DNS.
"""

from __future__ import annotations

import base64
import html
import select
import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from redirect_audit.demo import upstream as demo


@dataclass(frozen=True)
class Arrival:
    """One request as the upstream received it."""

    origin: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


class Handler(demo.Handler):
    server: Server
    tunnel: str | None = None  # the origin of a CONNECT tunnel to a virtual host

    def do_CONNECT(self) -> None:
        """A tunnel to a virtual host: TLS inside when the client starts a handshake (any name: the proxy does not
        verify), else plain HTTP (Node's fetch tunnels http too)."""
        if self.server.tunnels is None:
            self.close_connection = True
            return self.answer(405, b"no tunnels here", "text/plain")
        host, _, port = self.path.rpartition(":")
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        tls = self.connection.recv(1, socket.MSG_PEEK) == b"\x16"  # a TLS handshake record
        if tls:
            self.connection = self.server.tunnels.wrap_socket(self.connection, server_side=True)
            self.rfile = self.connection.makefile("rb")
            self.wfile = self.connection.makefile("wb", buffering=0)
        scheme, default = ("https", "443") if tls else ("http", "80")
        self.tunnel = f"{scheme}://{host.lower()}" + ("" if port == default else f":{port}")

    def finish(self) -> None:
        super().finish()
        if self.tunnel is not None:  # a TLS socket took over the connection: the server closes only the old one
            self.connection.close()

    def _where(self) -> tuple[str, str]:
        """(origin, path in origin form) of the request: a virtual host's from its absolute URL or its tunnel."""
        if self.tunnel is not None:
            return self.tunnel, self.path
        if self.path.startswith("http://"):
            target = urlsplit(self.path)
            origin = f"http://{target.netloc.lower().removesuffix(':80')}"
            return origin, self.path[len("http://") + len(target.netloc) :] or "/"
        return self.server.origin, self.path

    def read_body(self) -> bytes | None:
        """The body, as the demo's upstream reads it; and the request recorded as it arrived, with its origin."""
        body = super().read_body()
        self.origin, self.path = self._where()
        self.server.owner.record(
            Arrival(self.origin, self.command, self.path, tuple(self.headers.items()), body or b"")
        )
        return body

    def respond(self, path: str, query_string: str, query: dict[str, list[str]], body: bytes) -> None:
        if self.redirect(path, query_string, query):
            return
        if path.startswith("/raw/") and path.removeprefix("/raw/").isdigit():
            return self._raw(int(path.removeprefix("/raw/")))
        if path == "/hang":
            return self._hang()
        if self.command == "OPTIONS" and self.headers.get("Access-Control-Request-Method"):
            return self.answer(204, b"", "text/plain")  # a CORS preflight: allowed (see answer)
        if path == "/cookie-gate":
            name = query.get("name", ["gate"])[0]
            if f"{name}=" in (self.headers.get("Cookie") or ""):
                return self.answer(200, b"welcome", "text/plain")
            return self.answer(302, b"again", "text/plain", [("Location", self.path), ("Set-Cookie", f"{name}=1")])
        if path == "/setcookie":
            return self.answer(200, b"ok", "text/plain", [("Set-Cookie", c) for c in query.get("cookie", [])])
        if path == "/login":
            return self._login(query)
        if path.startswith("/secure/") and self.origin.startswith("http://"):
            status = int(query.get("status", ["307"])[0])
            return self.answer(status, b"use https", "text/plain", [("Location", f"https{self.origin[4:]}{self.path}")])
        self.echo(body)

    def redirect_as_asked(self, query: dict[str, list[str]], headers: list[tuple[str, str]] = ()) -> None:
        more = [("Location", value) for value in query.get("loc2", [])[:1]]
        more += [("Set-Cookie", cookie) for cookie in query.get("cookie", [])]
        super().redirect_as_asked(query, more + list(headers))

    def _raw(self, index: int) -> None:
        answer, reset = self.server.owner.canned(index)
        self.close_connection = True
        self.wfile.write(answer)
        if reset:  # linger 0: closing sends RST, not FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _hang(self) -> None:
        self.close_connection = True
        while not self.server.owner.stopping.is_set():
            if select.select([self.rfile], [], [], 0.2)[0] and not self.rfile.read1(65536):
                return  # the peer hung up

    def _login(self, query: dict[str, list[str]]) -> None:
        # The form posts to a /go/ URL: the identity provider's redirect is fixed, not an open redirect.
        status = query.get("status", ["303"])[0]
        target = base64.urlsafe_b64encode(query.get("to", ["/echo"])[0].encode()).decode().rstrip("=")
        action = html.escape(query.get("action", [f"/go/{status}/{target}"])[0])
        page = (
            '<!doctype html><title>Sign in</title><form method=post action="' + action + '">'
            "<input name=username value=alice><input name=password type=password value=''>"
            "<button id=submit type=submit>Sign in</button></form>"
        )
        self.answer(200, page.encode(), "text/html; charset=utf-8")

    def answer(self, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] = ()) -> None:
        headers = list(headers)
        if origin := self.headers.get("Origin"):  # let a page's fetch() from the other origin read the answer
            headers += [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, PATCH"),
                ("Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers", "*")),
            ]
        super().answer(status, body, content_type, headers)


class Server(demo.Server):
    request_queue_size = 256  # a proxy serving a hundred concurrent clients opens as many connections at once

    def __init__(self, host: str, owner: ScenarioUpstream, tls: ssl.SSLContext | None, virtual: bool) -> None:
        # A virtual upstream is a proxy's upstream: plain http, TLS only inside CONNECT tunnels.
        super().__init__(host, None if virtual else tls, Handler)
        self.owner = owner
        self.tunnels = tls if virtual else None


class ScenarioUpstream(demo.ScenarioUpstream):
    """`tls`: (certificate, key) files to serve https on every origin instead of http (or inside the tunnels of
    a `virtual` upstream)."""

    def __init__(
        self,
        hosts: tuple[str, ...] = ("127.0.0.1", "127.0.0.2"),
        tls: tuple[Path, Path] | None = None,
        virtual: bool = False,
    ) -> None:
        super().__init__(hosts, tls)
        self._virtual = virtual
        self._lock = threading.Lock()
        self._canned: list[tuple[bytes, bool]] = []
        self.stopping = threading.Event()
        self.arrivals: list[Arrival] = []

    @classmethod
    def virtual(cls, tls: tuple[Path, Path]) -> ScenarioUpstream:
        """Any host name, http and https, behind one address: `proxy_address` is what a proxy forwards to."""
        return cls(("127.0.0.1",), tls=tls, virtual=True)

    @property
    def proxy_address(self) -> str:
        return self.origins[0]

    def serve(self, host: str) -> Server:
        return Server(host, self, self.tls, self._virtual)

    def stop(self) -> None:
        self.stopping.set()
        super().stop()

    def url(self, path: str, origin: int | str = 0) -> str:
        """`path` at one of the origins, by number, or at a virtual host's origin (`https://a.example.test`)."""
        return origin + path if isinstance(origin, str) else super().url(path, origin)

    def raw(self, answer: bytes, *, reset: bool = False, origin: int = 0) -> str:
        """The URL of an answer of exactly these bytes (status line, headers, body), after which the upstream
        closes the connection, with a reset (RST) instead of a FIN if `reset`. `raw(b"", reset=True)` resets
        the connection instead of answering."""
        with self._lock:
            self._canned.append((answer, reset))
            return self.url(f"/raw/{len(self._canned) - 1}", origin)

    def canned(self, index: int) -> tuple[bytes, bool]:
        with self._lock:
            return self._canned[index]

    def hang(self, origin: int = 0) -> str:
        """The URL of a request the upstream never answers."""
        return self.url("/hang", origin)

    def record(self, arrival: Arrival) -> None:
        with self._lock:
            self.arrivals.append(arrival)

    def arrivals_at(self, path: str) -> list[Arrival]:
        """What arrived for exactly this path and query (tags t1 and t10 must not mix)."""
        with self._lock:
            return [a for a in self.arrivals if a.path == path]
