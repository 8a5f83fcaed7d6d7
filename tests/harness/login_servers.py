"""A small authorization server (127.0.0.1) and a relying party with a SAML service provider (127.0.0.2), real HTTP
servers for the flow-review tests. Each misbehaves only as the request asks (`misbehave=` in the authorization
request; the callback's `policy=`), so every test has its correct twin on the same servers.

Authorization server:
    /.well-known/openid-configuration   metadata: issuer, endpoints, authorization_response_iss_parameter_supported
    /authorize?...&misbehave=M          answers at once (the user is logged in), as the request's response_mode says
                                        (query, fragment, form_post), with code, state and iss; M among:
                                        other-path, drop-state, change-state, no-iss, other-iss, ignore-response-mode,
                                        accept-any-verifier (at its token endpoint)
    /token                              a code for tokens: checks PKCE (S256 or plain), unless accept-any-verifier
    /pixel.gif                          a third-party resource a callback page loads
Relying party:
    /cb?policy=P                        the callback page: Referrer-Policy P (`meta:P`: a <meta name=referrer>),
                                        and an image from the authorization server's origin
    /acs                                a SAML assertion consumer service: redirects to the posted RelayState
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

ISSUER_PATH = ""  # the issuer is the server's origin


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self._route()

    def do_POST(self) -> None:  # noqa: N802
        self._route()

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query, keep_blank_values=True).items()}
        form = {name: values[0] for name, values in parse_qs(body.decode(), keep_blank_values=True).items()}
        self.server.owner.seen.append((self.server.origin, self.command, self.path, dict(self.headers.items())))
        name = url.path.strip("/").translate(str.maketrans("/.-", "___"))
        handler = getattr(self, f"_{self.server.role}_{name}", None)
        if handler is None:
            return self._send(404, b"no such page", "text/plain")
        handler(query, form)

    # --- the authorization server ---------------------------------------------------------------------------

    def _as__well_known_openid_configuration(self, query, form) -> None:
        owner = self.server.owner
        metadata = {
            "issuer": owner.issuer,
            "authorization_endpoint": owner.issuer + "/authorize",
            "token_endpoint": owner.issuer + "/token",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "authorization_response_iss_parameter_supported": True,
        }
        self._send(200, json.dumps(metadata).encode(), "application/json")

    def _as_authorize(self, query, form) -> None:
        owner, misbehave = self.server.owner, query.get("misbehave", "")
        code = secrets.token_urlsafe(12)
        owner.codes[code] = (query.get("code_challenge"), query.get("code_challenge_method"), misbehave)
        answer = {"code": code}
        if "state" in query and misbehave != "drop-state":
            answer["state"] = "another-state" if misbehave == "change-state" else query["state"]
        if misbehave != "no-iss":
            answer["iss"] = "http://issuer.attacker.example" if misbehave == "other-iss" else owner.issuer
        target = query["redirect_uri"]
        if misbehave == "other-path":
            parts = urlsplit(target)
            target = f"{parts.scheme}://{parts.netloc}/elsewhere"
        mode = "query" if misbehave == "ignore-response-mode" else query.get("response_mode", "query")
        if mode == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in answer.items()
            )
            page = (f'<!doctype html><body onload="document.forms[0].submit()"><form method="post" '
                    f'action="{html.escape(target)}">{fields}</form></body>')  # fmt: skip
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        separator = "#" if mode == "fragment" else ("&" if "?" in target else "?")
        self._send(302, b"", "text/plain", [("Location", target + separator + urlencode(answer))])

    def _as_token(self, query, form) -> None:
        challenge, method, misbehave = self.server.owner.codes.pop(form.get("code", ""), (None, None, "unknown"))
        verifier = form.get("code_verifier")
        if misbehave == "unknown":
            return self._send(400, b'{"error": "invalid_grant"}', "application/json")
        if misbehave != "accept-any-verifier":
            if (challenge is None) != (verifier is None):
                return self._send(400, b'{"error": "invalid_grant"}', "application/json")
            if challenge is not None and _challenge_of(verifier, method) != challenge:
                return self._send(400, b'{"error": "invalid_grant"}', "application/json")
        tokens = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300}
        self._send(200, json.dumps(tokens).encode(), "application/json")

    def _as_pixel_gif(self, query, form) -> None:
        self._send(200, base64.b64decode("R0lGODlhAQABAAAAACw="), "image/gif")

    # --- the relying party and the SAML service provider ----------------------------------------------------

    def _rp_cb(self, query, form) -> None:
        policy = query.get("policy", "")
        headers = [("Referrer-Policy", policy)] if policy and not policy.startswith("meta:") else []
        meta = f'<meta name="referrer" content="{html.escape(policy[5:])}">' if policy.startswith("meta:") else ""
        image = html.escape(self.server.owner.issuer + "/pixel.gif")
        page = f'<!doctype html><head>{meta}<title>Signed in</title></head><body><img src="{image}"></body>'
        self._send(200, page.encode(), "text/html; charset=utf-8", headers)

    def _rp_acs(self, query, form) -> None:
        relay = form.get("RelayState") or query.get("RelayState") or "/"
        self._send(302, b"", "text/plain", [("Location", relay)])

    def _send(self, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _challenge_of(verifier: str, method: str | None) -> str:
    if (method or "plain").upper() != "S256":
        return verifier
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, role: str, owner: LoginServers) -> None:
        super().__init__((host, 0), _Handler)
        self.role, self.owner = role, owner
        self.origin = f"http://{host}:{self.server_address[1]}"


class LoginServers:
    """The authorization server (`issuer`) and the relying party (`rp`), started with `with`."""

    def __init__(self) -> None:
        self.codes: dict[str, tuple[str | None, str | None, str]] = {}
        self.seen: list[tuple[str, str, str, dict[str, str]]] = []  # (origin, method, path, headers) as received
        self._servers = [_Server("127.0.0.1", "as", self), _Server("127.0.0.2", "rp", self)]
        self.issuer, self.rp = (server.origin for server in self._servers)

    def __enter__(self) -> LoginServers:
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def authorize(self, state: str | None = "st-1", redirect: str = "/cb", **extra: str) -> str:
        """An authorization request URL for the relying party's callback."""
        query = {"response_type": "code", "client_id": "rp", "redirect_uri": self.rp + redirect, **extra}
        if state is not None:
            query["state"] = state
        return self.issuer + "/authorize?" + urlencode(query)
