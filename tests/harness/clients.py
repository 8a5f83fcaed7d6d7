"""The client matrix's real clients: the demo's (`redirect_audit.demo.clients`), and aiohttp, urllib3 and Node's
fetch (undici, from `node/`: `scripts/bootstrap --test` installs it)."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

from redirect_audit.demo import clients as demo
from redirect_audit.demo.clients import HANDROLLED_CLIENTS, ClientResult, available_clients

__all__ = ["EXTRA_CLIENTS", "HANDROLLED_CLIENTS", "ClientResult", "available_clients", "matrix_clients", "send",
           "version"]  # fmt: skip

EXTRA_CLIENTS = ("aiohttp", "urllib3", "node-fetch")  # the client matrix's further real clients
NODE_CLIENT = Path(__file__).parent / "node" / "fetch-client.mjs"


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


def send(client: str, method: str, url: str, **options) -> ClientResult:
    """`redirect_audit.demo.clients.send`, for the matrix's clients too."""
    return demo.send(client, method, url, senders=SENDERS, **options)


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


SENDERS = {**demo.SENDERS, "aiohttp": _aiohttp, "urllib3": _urllib3, "node-fetch": _node_fetch}
