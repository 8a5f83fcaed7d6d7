"""The demo's scenario upstream: a real HTTP/1.1 server on two loopback origins (127.0.0.1 and 127.0.0.2, so
cross-origin is real), http or https, answering redirects as the URL asks.

    /redirect?status=307&to=/result     that status, `Location: <to>` verbatim (no `to`: no Location)
    /go/STATUS/BASE64URL                that status to a fixed target (not taken from a parameter: no open redirect)
    /chain/N?status=302                 N more redirects, then 200 (the query string is kept)
    /loop/a, /loop/b                    redirect to each other forever (the query string is kept)
    anything else                       200 JSON echo of what arrived

`Handler.respond` and `Handler.answer` are where a larger scenario server (the test suite's) adds endpoints and
headers; `ScenarioUpstream.serve` is where it makes its own servers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        """Quiet: the demo reads the proxy's findings, not a log."""

    def read_body(self) -> bytes | None:
        """The request's body (chunked or with a Content-Length); None when its Content-Length is not a number."""
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

    def _handle(self) -> None:
        body = self.read_body()
        if body is None:
            self.close_connection = True
            return self.answer(400, b"bad Content-Length", "text/plain")
        url = urlsplit(self.path)
        self.respond(url.path, url.query, parse_qs(url.query, keep_blank_values=True), body)

    def respond(self, path: str, query_string: str, query: dict[str, list[str]], body: bytes) -> None:
        """Answer the request for `path`: a redirect, or the echo."""
        if not self.redirect(path, query_string, query):
            self.echo(body)

    def redirect(self, path: str, query_string: str, query: dict[str, list[str]]) -> bool:
        """Answer with a redirect if `path` is one of the redirecting endpoints; whether it was."""
        if path == "/redirect":
            self.redirect_as_asked(query)
        elif path.startswith("/go/"):
            _, _, status, target = path.split("/", 3)
            location = base64.urlsafe_b64decode(target.encode() + b"==").decode("latin-1")  # the bytes as they were
            self.answer(int(status), b"redirecting", "text/plain", [("Location", location)])
        elif path.startswith("/chain/"):
            remaining = int(path.rsplit("/", 1)[1] or 0)
            if remaining <= 0:
                self.answer(200, b"end of chain", "text/plain")
            else:
                status = int(query.get("status", ["302"])[0])
                kept = f"?{query_string}" if query_string else ""
                self.answer(status, b"next", "text/plain", [("Location", f"/chain/{remaining - 1}{kept}")])
        elif path in ("/loop/a", "/loop/b"):
            other = "/loop/b" if path == "/loop/a" else "/loop/a"
            kept = f"?{query_string}" if query_string else ""
            self.answer(302, b"loop", "text/plain", [("Location", f"{other}{kept}")])
        else:
            return False
        return True

    def redirect_as_asked(self, query: dict[str, list[str]], headers: list[tuple[str, str]] = ()) -> None:
        """/redirect: the status and Location the query gives, then `headers`."""
        status = int(query.get("status", ["302"])[0])
        location = [("Location", value) for value in query.get("to", [])[:1]]
        self.answer(status, b"redirecting", "text/plain", location + list(headers))

    def echo(self, body: bytes) -> None:
        echo = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        self.answer(200, json.dumps(echo).encode(), "application/json")

    def answer(self, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_PROPFIND = _handle


class Server(ThreadingHTTPServer):
    """One origin: http, or https with `tls` (the handshake in the handler's thread)."""

    daemon_threads = True

    def __init__(self, host: str, tls: ssl.SSLContext | None, handler: type[Handler] = Handler) -> None:
        super().__init__((host, 0), handler)
        self.tls = tls
        self.origin = f"{'https' if tls else 'http'}://{host}:{self.server_address[1]}"

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-answer is no error of the scenario's."""
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)

    def get_request(self):
        connection, address = super().get_request()
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def finish_request(self, request, client_address) -> None:
        if self.tls is not None:
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


class ScenarioUpstream:
    """`tls`: (certificate, key) files to serve https on every origin instead of http."""

    def __init__(self, hosts: tuple[str, ...] = ("127.0.0.1", "127.0.0.2"), tls: tuple[Path, Path] | None = None):
        self._hosts = hosts
        self.tls = None
        if tls is not None:
            self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.load_cert_chain(*tls)
        self._servers: list[Server] = []
        self.origins: list[str] = []

    def serve(self, host: str) -> Server:
        """The server of one origin."""
        return Server(host, self.tls)

    def start(self) -> ScenarioUpstream:
        for host in self._hosts:
            server = self.serve(host)
            threading.Thread(target=server.serve_forever, name=f"upstream {server.origin}", daemon=True).start()
            self._servers.append(server)
            self.origins.append(server.origin)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> ScenarioUpstream:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, path: str, origin: int = 0) -> str:
        """`path` at one of the origins, by number."""
        return self.origins[origin] + path

    def go(self, status: int, location: str, origin: int = 0) -> str:
        """The URL of a redirect with `status` to `location`, fixed by the server (see /go/). The Location's
        bytes are `location` in UTF-8; bytes that are not (surrogate escapes) go as they are."""
        encoded = base64.urlsafe_b64encode(location.encode("utf-8", "surrogateescape")).decode().rstrip("=")
        return self.url(f"/go/{status}/{encoded}", origin)
