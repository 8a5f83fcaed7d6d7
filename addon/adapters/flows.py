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


def request_of(flow: http.HTTPFlow) -> Request:
    req = flow.request
    return Request(
        flow_id=flow.id,
        client=client_of(flow),
        method=req.method.upper(),
        url=req.pretty_url,
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
