"""The real HTTP clients `redirect-audit demo` drives through the proxy, each following redirects its own way.

The library clients are what people use: urllib, and curl when it is on PATH; requests and httpx when the `demo`
extra is installed (`pip install 'redirect-audit[demo]'`). The two hand-rolled ones reproduce classic bugs of
in-house redirect handling, so every rule can be seen firing on real traffic:
- `naive-get` follows every redirect with a plain GET and copies the original headers;
- `naive-replay` repeats method and headers on every redirect and re-sends the body through a fixed
  64 KiB buffer (so a large body arrives truncated).

`send` drives any client of a table of senders (`SENDERS` by default), each one function of the `Sender` shape.
"""

from __future__ import annotations

import http.client
import importlib.util
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

LIBRARY_CLIENTS = ("urllib", "requests", "httpx", "curl")
HANDROLLED_CLIENTS = ("naive-get", "naive-replay")
DEMO_CLIENTS = LIBRARY_CLIENTS + HANDROLLED_CLIENTS
OPTIONAL = {"requests": "requests", "httpx": "httpx"}  # client: the module of the `demo` extra it needs
REPLAY_BUFFER = 64 * 1024
# One request: (method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> the final status.
Sender = Callable[[str, str, str, dict[str, str], bytes | None, bool, int, float, ssl.SSLContext, str | None], int]


@dataclass(frozen=True)
class ClientResult:
    client: str
    ok: bool  # reached a final response (any status) without an exception
    status: int | None
    error: str | None = None


def missing(client: str) -> str | None:
    """Why `client` cannot run on this machine, or None when it can."""
    module = OPTIONAL.get(client)
    if module is not None and importlib.util.find_spec(module) is None:
        return f"{module} is not installed: pip install 'redirect-audit[demo]'"
    if client == "curl" and shutil.which("curl") is None:
        return "curl is not on PATH"
    return None


def available_clients() -> list[str]:
    """The demo's clients that this machine has, in the demo's order."""
    return [client for client in DEMO_CLIENTS if missing(client) is None]


def send(
    client: str,
    method: str,
    url: str,
    *,
    proxy: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    follow: bool = True,
    max_redirects: int = 30,
    timeout: float = 10.0,
    ca: str | None = None,
    senders: Mapping[str, Sender] | None = None,
) -> ClientResult:
    """One request by `client` (a name in `senders`, by default `SENDERS`) through `proxy`, following redirects
    the client's own way. `ca`: the CA certificate (the proxy's) that https connections are verified against."""
    sender = (SENDERS if senders is None else senders)[client]
    try:
        tls = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
        status = sender(method, url, proxy, dict(headers or {}), body, follow, max_redirects, timeout, tls, ca)
        return ClientResult(client, True, status)
    except Exception as error:  # a client giving up (loops, bad Location) is an outcome, not a crash
        return ClientResult(client, False, None, f"{type(error).__name__}: {error}"[:200])


def _urllib(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    handlers: list = [
        urllib.request.ProxyHandler({"http": proxy, "https": proxy}),
        urllib.request.HTTPSHandler(context=tls),
    ]
    if not follow:
        handlers.append(_NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        if error.code >= 400 or not follow:
            return error.code
        raise


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _requests(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    import requests  # the `demo` extra (see missing)

    with requests.Session() as session:
        session.trust_env = False
        session.max_redirects = max_redirects
        response = session.request(
            method,
            url,
            headers=headers,
            data=body,
            proxies={"http": proxy, "https": proxy},
            allow_redirects=follow,
            timeout=timeout,
            verify=ca or True,
        )
        return response.status_code


def _httpx(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    import httpx  # the `demo` extra (see missing)

    with httpx.Client(
        verify=tls,
        proxy=proxy,
        trust_env=False,
        follow_redirects=follow,
        max_redirects=max_redirects,
        timeout=timeout,
    ) as session:
        return session.request(method, url, headers=headers, content=body).status_code


def _curl(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    command = [
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--proxy",
        proxy,
        "--noproxy",
        "",
        "--max-time",
        str(timeout),
    ]
    if follow:
        command += ["-L", "--max-redirs", str(max_redirects)]
    if ca:
        command += ["--cacert", ca]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if method == "HEAD":
        command.append("-I")
    elif body is not None:
        command += ["--data-binary", "@-"]
        if method != "POST":  # plain POST lets curl apply its usual 301/302/303 rewriting
            command += ["-X", method]
    elif method != "GET":
        command += ["-X", method]
    command.append(url)
    done = subprocess.run(command, input=body, capture_output=True, timeout=timeout + 5)
    if done.returncode != 0:
        raise RuntimeError(f"curl exit {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    return int(done.stdout.decode().strip()[-3:])


def _raw(method: str, url: str, proxy: str, headers: dict[str, str], body: bytes | None, timeout: float, tls):
    """One request through an HTTP proxy with http.client, no redirect logic at all: in absolute form for
    http, through a CONNECT tunnel for https."""
    via, target = urlsplit(proxy), urlsplit(url)
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(via.hostname, via.port, timeout=timeout, context=tls)
        connection.set_tunnel(target.hostname, target.port or 443)
        url = target.path + (f"?{target.query}" if target.query else "") or "/"
    else:
        connection = http.client.HTTPConnection(via.hostname, via.port, timeout=timeout)
    try:
        connection.request(method, url, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


def _naive(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, rewrite) -> int:
    for _ in range(max_redirects + 1):
        status, location = _raw(method, url, proxy, headers, body, timeout, tls)
        if not follow or status not in (301, 302, 303, 307, 308) or location is None:
            return status
        url = urljoin(url, location)  # the RFC 3986 resolver many hand-written clients use
        method, body = rewrite(method, body)
    raise RuntimeError("too many redirects")


def _naive_get(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    return _naive(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, lambda m, b: ("GET", None))


def _naive_replay(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    def replay(method: str, body: bytes | None) -> tuple[str, bytes | None]:
        if body is not None:
            body = body[:REPLAY_BUFFER]
            headers["Content-Length"] = str(len(body))
        return method, body

    return _naive(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, replay)


SENDERS: dict[str, Sender] = {
    "urllib": _urllib,
    "requests": _requests,
    "httpx": _httpx,
    "curl": _curl,
    "naive-get": _naive_get,
    "naive-replay": _naive_replay,
}
