"""mitmproxy flows as engine records. The only place that knows both."""

from __future__ import annotations

from mitmproxy import http

from ..engine.model import Body, Request, Response

RECORDING_CLIENT = "recording"  # the one client of a recording that has no client identity


def client_of(flow: http.HTTPFlow) -> str:
    peer = flow.client_conn.peername
    if not peer or not peer[0]:
        return RECORDING_CLIENT
    host = str(peer[0])
    return host.removeprefix("::ffff:")  # an IPv4 client seen on a dual-stack socket is that IPv4 client


def _body(message: http.Message) -> Body:
    raw = message.raw_content  # None when streamed past the proxy: the body is unknown
    if raw is None:
        return Body(None)
    return Body(len(raw), lambda: raw)


# Modes in which the proxy learns the destination from the Host header, not from the client's request.
_HOST_HEADER_MODES = frozenset({"transparent", "reverse", "wireguard", "local", "tun", "osproxy"})


def target_url(flow: http.HTTPFlow) -> str:
    """Where the request really goes. Through an explicit proxy, the request target (absolute form, or the
    CONNECT tunnel's) names it, whatever the Host header says: urllib3 keeps the old Host on a cross-host
    redirect. Transparent and reverse modes have only the Host header to tell."""
    mode = getattr(flow.client_conn.proxy_mode, "type_name", "regular")
    return flow.request.pretty_url if mode in _HOST_HEADER_MODES else flow.request.url


def request_of(flow: http.HTTPFlow) -> Request:
    req = flow.request
    return Request(
        flow_id=flow.id,
        client=client_of(flow),
        method=req.method.upper(),
        url=target_url(flow),
        headers=tuple((name.lower(), value) for name, value in req.headers.items(multi=True)),
        body=_body(req),
        time=req.timestamp_start,
    )


def response_of(flow: http.HTTPFlow) -> Response:
    resp = flow.response
    assert resp is not None
    return Response(
        status=resp.status_code,
        headers=tuple((name.lower(), value) for name, value in resp.headers.items(multi=True)),
        time=resp.timestamp_end or resp.timestamp_start,
    )
