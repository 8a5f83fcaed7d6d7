"""Real HTTP clients, each following redirects its own way, driven through a proxy.

The library clients are what people use. The two hand-rolled ones reproduce classic bugs of in-house
redirect handling, so every rule can be seen firing on real traffic:
- `naive-get` follows every redirect with a plain GET and copies the original headers;
- `naive-replay` repeats method and headers on every redirect and re-sends the body through a fixed
  64 KiB buffer (so a large body arrives truncated).
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import requests

LIBRARY_CLIENTS = ("urllib", "requests", "httpx", "curl")
EXTRA_CLIENTS = ("aiohttp", "urllib3", "node-fetch")  # the client matrix's further real clients
NODE_CLIENT = Path(__file__).parent / "node" / "fetch-client.mjs"
HANDROLLED_CLIENTS = ("naive-get", "naive-replay")
REPLAY_BUFFER = 64 * 1024


@dataclass(frozen=True)
class ClientResult:
    client: str
    ok: bool  # reached a final response (any status) without an exception
    status: int | None
    error: str | None = None


def available_clients() -> list[str]:
    clients = [c for c in LIBRARY_CLIENTS if c != "curl" or shutil.which("curl")]
    return clients + list(HANDROLLED_CLIENTS)


def matrix_clients() -> list[str]:
    """Every real client of the client matrix that this machine has (browsers are driven separately)."""
    extra = [c for c in EXTRA_CLIENTS if _importable(c)]
    return [c for c in available_clients() if c not in HANDROLLED_CLIENTS] + extra


def _importable(client: str) -> bool:
    if client == "node-fetch":
        return shutil.which("node") is not None and (NODE_CLIENT.parent / "node_modules" / "undici").is_dir()
    try:
        __import__(client)
    except ImportError:
        return False
    return True


def version(client: str) -> str:
    """The client's version, for the matrix's table."""
    if client == "curl":
        return subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1]
    if client == "node-fetch":
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        undici = json.loads((NODE_CLIENT.parent / "node_modules" / "undici" / "package.json").read_text())
        return f"node {node}, undici {undici['version']}"
    if client == "urllib":
        return f"Python {sys.version.split()[0]}"
    module = __import__(client.split("-")[0])
    return getattr(module, "__version__", "?")


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
) -> ClientResult:
    """One request by `client` through `proxy`, following redirects the client's own way.
    `ca`: the CA certificate (the proxy's) that https connections are verified against."""
    senders = {
        "urllib": _urllib,
        "requests": _requests,
        "httpx": _httpx,
        "httpx-h2": _httpx_h2,
        "aiohttp": _aiohttp,
        "urllib3": _urllib3,
        "node-fetch": _node_fetch,
        "curl": _curl,
        "naive-get": _naive_get,
        "naive-replay": _naive_replay,
    }
    try:
        tls = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
        status = senders[client](method, url, proxy, dict(headers or {}), body, follow, max_redirects, timeout, tls, ca)
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


def _httpx(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca, http2=False) -> int:
    with httpx.Client(
        http2=http2,
        verify=tls,
        proxy=proxy,
        trust_env=False,
        follow_redirects=follow,
        max_redirects=max_redirects,
        timeout=timeout,
    ) as session:
        return session.request(method, url, headers=headers, content=body).status_code


def _httpx_h2(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    """httpx speaking HTTP/2 to the proxy where TLS lets them agree on it (ALPN)."""
    return _httpx(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca, http2=True)


def _aiohttp(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    import aiohttp

    async def run() -> int:
        settings = {"trust_env": False, "timeout": aiohttp.ClientTimeout(total=timeout)}
        async with (
            aiohttp.ClientSession(**settings) as session,
            session.request(
                method, url, proxy=proxy, headers=headers, data=body, allow_redirects=follow,
                max_redirects=max_redirects, ssl=tls,
            ) as response,
        ):  # fmt: skip
            await response.read()
            return response.status

    return asyncio.run(run())


def _urllib3(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    import urllib3

    with urllib3.ProxyManager(proxy, ssl_context=tls, timeout=timeout) as manager:
        retries = urllib3.Retry(total=None, connect=0, read=0, redirect=max_redirects, raise_on_redirect=True)
        response = manager.request(method, url, body=body, headers=headers, redirect=follow, retries=retries)
        return response.status


def _node_fetch(method, url, proxy, headers, body, follow, max_redirects, timeout, tls, ca) -> int:
    job = {
        "id": 0, "method": method, "url": url, "headers": headers, "proxy": proxy, "ca": ca, "follow": follow,
        "timeout": timeout, "body_b64": base64.b64encode(body).decode() if body is not None else None,
    }  # fmt: skip
    done = subprocess.run(
        ["node", str(NODE_CLIENT)], input=json.dumps(job) + "\n", capture_output=True, text=True, timeout=timeout + 10
    )
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {"error": done.stderr}
    if not result.get("ok"):
        raise RuntimeError(result.get("error", "node failed")[:200])
    return result["status"]


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
