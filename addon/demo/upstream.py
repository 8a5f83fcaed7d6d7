"""A real HTTP/1.1 scenario server on two loopback origins (127.0.0.1 and 127.0.0.2: cross-origin for real).

It answers redirects as the query string asks and records every request it receives, so the demo and
the tests can check what a client really sent on a follow-up (and that a blocked one never arrived).

    /redirect?status=307&to=/echo       that status, `Location: <to>` verbatim (no `to`: no Location);
                                        `&cookie=...` adds Set-Cookie (repeatable), `&loc2=...` a second Location
    /go/STATUS/BASE64URL                that status to a fixed target (not taken from a parameter: no open redirect)
    /login?status=303&to=URL            an HTML login form whose POST is answered with that status and target
    /login?action=URL                   the same form, posting to URL
    /secure/...?status=307              over http, that status to the same URL over https (HTTPS enforcement,
                                        for a virtual host); over https, as anything else
    /chain/N?status=302                 N more redirects, then 200 (the query string is kept)
    /loop/a, /loop/b                    redirect to each other forever (the query string is kept)
    /setcookie?cookie=...               200 with Set-Cookie (repeatable)
    /cookie-gate?name=N                 without cookie N, 302 to itself setting it; with it, 200 (a login page)
    /raw/N                              the bytes registered with `raw()` verbatim, then the connection closes
                                        (or resets): answers no well-behaved server sends, and resets
    /hang                               no answer at all, until the peer hangs up or the upstream stops
    anything else                       200 JSON echo of what arrived
Every answer allows CORS for the requesting Origin, so a browser's fetch() can exercise cross-origin
redirects too.

`ScenarioUpstream.virtual()` serves any host name instead, http and https on their default ports, to a
proxy that forwards to it as its upstream proxy (`mitmdump --mode upstream:<its address>`): requests
arrive in absolute form, https ones through a CONNECT tunnel. Named hosts make same-site, cross-site,
default ports and upper-case hosts real without DNS.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import select
import socket
import ssl
import struct
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Arrival:
    """One request as the upstream received it."""

    origin: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def body_length(self) -> int:
        return len(self.body)

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        """Quiet: tests and the demo read arrivals, not a log."""

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            count = int(length)
        except ValueError:
            return None
        return self.rfile.read(count) if count > 0 else b""

    tunnel: str | None = None  # the origin of a CONNECT tunnel to a virtual host

    def do_CONNECT(self) -> None:
        """A tunnel to a virtual host: TLS inside when the client starts a handshake (any name: the proxy does not
        verify), else plain HTTP (Node's fetch tunnels http too)."""
        if not self.server.virtual:
            self.close_connection = True
            return self._send(405, b"no tunnels here", "text/plain")
        host, _, port = self.path.rpartition(":")
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        tls = self.connection.recv(1, socket.MSG_PEEK) == b"\x16"  # a TLS handshake record
        if tls:
            self.connection = self.server.tls.wrap_socket(self.connection, server_side=True)
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

    def _handle(self) -> None:
        body = self._read_body()
        origin, self.path = self._where()
        self.server.owner.record(Arrival(origin, self.command, self.path, tuple(self.headers.items()), body or b""))
        if body is None:
            self.close_connection = True
            return self._send(400, b"bad Content-Length", "text/plain")
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        path = url.path
        if path == "/redirect":
            return self._redirect(query)
        if path.startswith("/go/"):
            return self._go(path)
        if path.startswith("/raw/") and path.removeprefix("/raw/").isdigit():
            return self._raw(int(path.removeprefix("/raw/")))
        if path == "/hang":
            return self._hang()
        if path.startswith("/chain/"):
            return self._chain(path, url.query, query)
        if path in ("/loop/a", "/loop/b"):
            other = "/loop/b" if path == "/loop/a" else "/loop/a"
            query = f"?{url.query}" if url.query else ""
            return self._send(302, b"loop", "text/plain", [("Location", f"{other}{query}")])
        if self.command == "OPTIONS" and self.headers.get("Access-Control-Request-Method"):
            return self._send(204, b"", "text/plain")  # a CORS preflight: allowed (see _send)
        if path == "/cookie-gate":
            name = query.get("name", ["gate"])[0]
            if f"{name}=" in (self.headers.get("Cookie") or ""):
                return self._send(200, b"welcome", "text/plain")
            return self._send(302, b"again", "text/plain", [("Location", self.path), ("Set-Cookie", f"{name}=1")])
        if path == "/setcookie":
            return self._send(200, b"ok", "text/plain", [("Set-Cookie", c) for c in query.get("cookie", [])])
        if path == "/login":
            return self._login(query)
        if path.startswith("/secure/") and origin.startswith("http://"):
            status = int(query.get("status", ["307"])[0])
            return self._send(status, b"use https", "text/plain", [("Location", f"https{origin[4:]}{self.path}")])
        echo = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        return self._send(200, json.dumps(echo).encode(), "application/json")

    def _redirect(self, query: dict[str, list[str]]) -> None:
        status = int(query.get("status", ["302"])[0])
        headers = [("Location", value) for key in ("to", "loc2") for value in query.get(key, [])[:1]]
        headers += [("Set-Cookie", cookie) for cookie in query.get("cookie", [])]
        self._send(status, b"redirecting", "text/plain", headers)

    def _go(self, path: str) -> None:
        _, _, status, target = path.split("/", 3)
        location = base64.urlsafe_b64decode(target.encode() + b"==").decode("latin-1")  # the bytes as they were
        self._send(int(status), b"redirecting", "text/plain", [("Location", location)])

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

    def _chain(self, path: str, query_string: str, query: dict[str, list[str]]) -> None:
        remaining = int(path.rsplit("/", 1)[1] or 0)
        if remaining <= 0:
            return self._send(200, b"end of chain", "text/plain")
        status = int(query.get("status", ["302"])[0])
        query = f"?{query_string}" if query_string else ""
        self._send(status, b"next", "text/plain", [("Location", f"/chain/{remaining - 1}{query}")])

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
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if origin := self.headers.get("Origin"):  # let a page's fetch() from the other origin read the answer
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, PATCH")
            self.send_header("Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers", "*"))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_PROPFIND = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a proxy serving a hundred concurrent clients opens as many connections at once

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-answer (a killed flow, a browser) is no error of the scenario's."""
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)

    def __init__(self, host: str, owner: ScenarioUpstream, tls: ssl.SSLContext | None, virtual: bool) -> None:
        super().__init__((host, 0), _Handler)
        self.owner = owner
        self.tls = tls
        self.virtual = virtual  # a proxy's upstream: TLS only inside CONNECT tunnels
        self.origin = f"{'https' if tls and not virtual else 'http'}://{host}:{self.server_address[1]}"

    def get_request(self):
        connection, address = super().get_request()
        if self.tls is not None and not self.virtual:  # the handshake happens in the handler's thread
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def finish_request(self, request, client_address) -> None:
        if self.tls is not None and not self.virtual:
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


class ScenarioUpstream:
    """`tls`: (certificate, key) files to serve https on every origin instead of http."""

    def __init__(
        self,
        hosts: tuple[str, ...] = ("127.0.0.1", "127.0.0.2"),
        tls: tuple[Path, Path] | None = None,
        virtual: bool = False,
    ) -> None:
        self._hosts = hosts
        self._virtual = virtual
        self._tls = None
        if tls is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(*tls)
        self._servers: list[_Server] = []
        self._lock = threading.Lock()
        self._canned: list[tuple[bytes, bool]] = []
        self.stopping = threading.Event()
        self.arrivals: list[Arrival] = []
        self.origins: list[str] = []

    @classmethod
    def virtual(cls, tls: tuple[Path, Path]) -> ScenarioUpstream:
        """Any host name, http and https, behind one address: `proxy_address` is what a proxy forwards to."""
        return cls(("127.0.0.1",), tls=tls, virtual=True)

    @property
    def proxy_address(self) -> str:
        return self.origins[0]

    def start(self) -> ScenarioUpstream:
        for host in self._hosts:
            server = _Server(host, self, self._tls, self._virtual)
            threading.Thread(target=server.serve_forever, name=f"upstream {server.origin}", daemon=True).start()
            self._servers.append(server)
            self.origins.append(server.origin)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> ScenarioUpstream:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, path: str, origin: int | str = 0) -> str:
        """`path` at one of the origins, by number, or at a virtual host's origin (`https://a.example.test`)."""
        return (origin if isinstance(origin, str) else self.origins[origin]) + path

    def go(self, status: int, location: str, origin: int | str = 0) -> str:
        """The URL of a redirect with `status` to `location`, fixed by the server (see /go/). The Location's
        bytes are `location` in UTF-8; bytes that are not (surrogate escapes) go as they are."""
        encoded = base64.urlsafe_b64encode(location.encode("utf-8", "surrogateescape")).decode().rstrip("=")
        return self.url(f"/go/{status}/{encoded}", origin)

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

    def clear(self) -> None:
        with self._lock:
            self.arrivals.clear()
