"""A relying party for the real OpenID Provider (`oidc_provider/provider.mjs`), on 127.0.0.2: Authlib builds the
authorization request (state, nonce, PKCE S256) and makes the token request, through the proxy under test, as a
web application's back end does when its traffic is routed through a proxy."""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from authlib.integrations.requests_client import OAuth2Session

PROVIDER = Path(__file__).parent / "oidc_provider" / "provider.mjs"
CLIENT_ID, CLIENT_SECRET = "rp", "rp-s3cret-for-tests"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        party = self.server.party
        if self.path.startswith("/login"):
            location = party.authorization_url()
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/cb"):
            status = party.redeem(party.origin + self.path)
            page = f"<!doctype html><title>Signed in</title><p>token request: {status}</p>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class RelyingParty:
    """The OpenID Provider (a Node process) and the relying party, for one proxy: `with RelyingParty(proxy_url)`."""

    def __init__(self, proxy: str, port: int) -> None:
        self.proxy = {"http": proxy}
        self._server = _Server(("127.0.0.2", 0), _Handler)
        self._server.party = self
        self.origin = f"http://127.0.0.2:{self._server.server_address[1]}"
        self.issuer = f"http://127.0.0.1:{port}"
        self._verifiers: dict[str, str] = {}  # state -> code_verifier
        self.token_statuses: list[int] = []
        self._provider = subprocess.Popen(["node", str(PROVIDER), str(port), self.origin], stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True)  # fmt: skip
        said = []
        for line in self._provider.stdout:  # its development-mode warnings come first
            said.append(line)
            if line.strip() == "ready":
                break
        else:
            raise RuntimeError("the OpenID Provider did not start: " + "".join(said)[-2000:])
        threading.Thread(target=self._provider.stdout.read, daemon=True).start()  # its warnings, drained
        self.metadata = (
            self._session()
            .get(self.issuer + "/.well-known/openid-configuration", timeout=10, withhold_token=True)
            .json()
        )

    def __enter__(self) -> RelyingParty:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._provider.terminate()
        self._provider.wait(timeout=10)

    def _session(self) -> OAuth2Session:
        session = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope="openid", redirect_uri=self.origin + "/cb",
                                code_challenge_method="S256")  # fmt: skip
        session.trust_env = False
        session.proxies = self.proxy
        return session

    def authorization_url(self) -> str:
        verifier = secrets.token_urlsafe(48)
        url, state = self._session().create_authorization_url(
            self.metadata["authorization_endpoint"], nonce=secrets.token_urlsafe(16), code_verifier=verifier
        )
        self._verifiers[state] = verifier
        return url

    def redeem(self, callback: str) -> int:
        state = dict(part.split("=", 1) for part in callback.split("?", 1)[1].split("&")).get("state", "")
        try:
            self._session().fetch_token(self.metadata["token_endpoint"], authorization_response=callback,
                                        code_verifier=self._verifiers.pop(state, None), state=state)  # fmt: skip
            status = 200
        except (requests.RequestException, Exception) as error:  # noqa: BLE001 - the provider's refusal is an outcome
            status = getattr(getattr(error, "response", None), "status_code", None) or 500
        self.token_statuses.append(status)
        return status


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
