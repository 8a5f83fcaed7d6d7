"""mitmproxy flows as engine records. The only place that knows both.

A live flow is converted as it is; a saved one from its state (what a flow file holds, migrated to this
mitmproxy's format) without building the flow: its client and server connections, with their TLS
certificates, are half the cost of reading a recording and tell the engine nothing but the client's
address and the proxy mode. Both go through the same conversion of mitmproxy's own Request and Response.
"""

from __future__ import annotations

import functools
from typing import Any

from mitmproxy import http
from mitmproxy.proxy import mode_specs

from ..engine.model import Body, Exchange, Request, Response

RECORDING_CLIENT = "recording"  # the one client of a recording that has no client identity
# Where a flow keeps the 3xx that block mode withheld from the client (its response is then the proxy's 403),
# so that analysing the recording judges what the server sent.
WITHHELD_KEY = "redirect_audit_withheld"

# Modes in which the proxy learns the destination from the Host header, not from the client's request.
_HOST_HEADER_MODES = frozenset({"transparent", "reverse", "wireguard", "local", "tun", "osproxy"})


def request_of(flow: http.HTTPFlow) -> Request:
    client = flow.client_conn
    mode = getattr(client.proxy_mode, "type_name", "regular")
    return _request(flow.id, client.peername, client.id, mode, flow.request)


def response_of(flow: http.HTTPFlow) -> Response:
    assert flow.response is not None
    withheld = flow.metadata.get(WITHHELD_KEY) if not flow.live else None
    return _withheld(withheld, flow.response) if withheld else _response(flow.response)


def withheld_state(response: http.Response) -> dict[str, Any]:
    """What a flow keeps of a 3xx it withheld: its status and headers (the body is no fact)."""
    return {"status_code": response.status_code, "headers": [[k, v] for k, v in response.headers.items(multi=True)]}


def _withheld(state: dict[str, Any], answer: http.Response) -> Response:
    headers = tuple((str(name).lower(), str(value)) for name, value in state["headers"])
    return Response(status=int(state["status_code"]), headers=headers, time=answer.timestamp_start, withheld=True)


def exchange_of_state(state: dict[str, Any]) -> Exchange | None:
    """A saved flow's state as engine records; None for flows other than HTTP (TCP, UDP, DNS).
    Raises KeyError, TypeError or ValueError on a state that is not a valid HTTP flow."""
    if state["type"] != "http":
        return None
    client = state["client_conn"]
    request = http.Request.from_state(state["request"])
    response = http.Response.from_state(state["response"]) if state["response"] else None
    mode = _mode_type(client["proxy_mode"])
    recorded = _request(state["id"], client["peername"], client.get("id"), mode, request)
    if response is None:
        return recorded, None
    withheld = state.get("metadata", {}).get(WITHHELD_KEY)
    return recorded, _withheld(withheld, response) if withheld else _response(response)


@functools.lru_cache(maxsize=64)
def _mode_type(spec: str) -> str:
    return mode_specs.ProxyMode.parse(spec).type_name


def _client(peername: Any) -> str:
    if not peername or not peername[0]:
        return RECORDING_CLIENT
    host = str(peername[0])
    return host.removeprefix("::ffff:")  # an IPv4 client seen on a dual-stack socket is that IPv4 client


def _request(flow_id: str, peername: Any, connection: str | None, mode: str, req: http.Request) -> Request:
    return Request(
        flow_id=flow_id,
        client=_client(peername),
        method=req.method.upper(),
        url=_target_url(req, mode),
        headers=tuple((name.lower(), value) for name, value in req.headers.items(multi=True)),
        body=_body(req),
        time=req.timestamp_start,
        connection=connection,
    )


def _response(resp: http.Response) -> Response:
    return Response(
        status=resp.status_code,
        headers=tuple((name.lower(), value) for name, value in resp.headers.items(multi=True)),
        time=resp.timestamp_start,  # when its headers arrived: it is judged then, live
    )


def _target_url(req: http.Request, mode: str) -> str:
    """Where the request really goes. Through an explicit proxy, the request target (absolute form, or the
    CONNECT tunnel's) names it, whatever the Host header says: urllib3 keeps the old Host on a cross-host
    redirect. Transparent and reverse modes have only the Host header to tell."""
    return req.pretty_url if mode in _HOST_HEADER_MODES else req.url


def _body(message: http.Message) -> Body:
    raw = message.raw_content  # None when streamed past the proxy: the body is unknown
    if raw is None:
        return Body(None)
    return Body(len(raw), lambda: raw)
