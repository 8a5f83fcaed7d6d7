"""mitmproxy flows as engine records. The only place that knows both.

A live flow is converted as it is; a saved one from its state (what a flow file holds, migrated to this
mitmproxy's format) without building the flow: its client and server connections, with their TLS
certificates, are half the cost of reading a recording and tell the engine nothing but the client's
address and the proxy mode. Both go through the same conversion of mitmproxy's own Request and Response.
"""

from __future__ import annotations

import functools
from typing import Any, get_args

from mitmproxy import http
from mitmproxy.proxy import mode_specs

from ..engine.model import EARLIEST, LATEST, RECORDING_CLIENT, Body, Exchange, Request, Response

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
    """What a flow keeps of a 3xx it withheld: its status and headers as they came (bytes: they need not be
    UTF-8), not the body, which is no fact."""
    return {"status_code": response.status_code, "headers": [[name, value] for name, value in response.headers.fields]}


def _withheld(state: dict[str, Any], answer: http.Response) -> Response:
    headers = http.Headers([(name, value) for name, value in state["headers"]])
    return _response(http.Response.make(state["status_code"], b"", headers), answer.timestamp_start, withheld=True)


def exchange_of_state(state: dict[str, Any]) -> Exchange | None:
    """A saved flow's state as engine records; None for flows other than HTTP (TCP, UDP, DNS).
    Raises InvalidFlow, naming the field, on a state that is not a valid HTTP flow."""
    if _field(state, "", "type", str) != "http":
        return None
    client = _field(state, "", "client_conn", dict)
    peername = _field(client, "client_conn.", "peername", list | None)
    if peername and not isinstance(peername[0], str | None):
        raise InvalidFlow("client_conn.peername", "not an address")
    mode = _mode_type(_field(client, "client_conn.", "proxy_mode", str))
    connection = _field(client, "client_conn.", "id", str | None)
    request = _message(http.Request, state, "request", _REQUEST_FIELDS)
    _time(request.timestamp_start, "request.timestamp_start")
    response = _message(http.Response, state, "response", _RESPONSE_FIELDS) if state.get("response") else None
    recorded = _request(_field(state, "", "id", str), peername, connection, mode, request)
    if response is None:
        return recorded, None
    _time(response.timestamp_start, "response.timestamp_start")  # as _response reads it
    withheld = _field(state, "", "metadata", dict).get(WITHHELD_KEY) if "metadata" in state else None
    if withheld is None:
        return recorded, _response(response)
    return recorded, _withheld(_checked_withheld(withheld), response)


def _checked_withheld(withheld: Any) -> dict[str, Any]:
    prefix = f"metadata.{WITHHELD_KEY}."
    if not isinstance(withheld, dict):
        raise InvalidFlow(prefix.rstrip("."), "not a mapping")
    _field(withheld, prefix, "status_code", int)
    for pair in _field(withheld, prefix, "headers", list):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, bytes) for part in pair)):
            raise InvalidFlow(prefix + "headers", "not a list of name and value bytes")
    return withheld


class InvalidFlow(ValueError):
    """A saved flow's state lacks what the engine relies on; `field` names where (`request.timestamp_start`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


# The fields of a saved request and response that the conversion reads, and the types mitmproxy's Request and
# Response take for them (they convert text to bytes and back, as older formats have it).
_STRING = bytes | str
_MESSAGE_FIELDS = {"http_version": _STRING, "headers": list, "timestamp_start": float | int}
_REQUEST_FIELDS = {
    **_MESSAGE_FIELDS,
    **{"host": _STRING, "port": int, "method": _STRING, "scheme": _STRING, "authority": _STRING, "path": _STRING},
    "content": bytes | None,
}
_RESPONSE_FIELDS = {**_MESSAGE_FIELDS, "status_code": int, "timestamp_end": float | int | None}
_MISSING = object()


def _field(state: dict, prefix: str, name: str, expected: Any) -> Any:
    value = state.get(name, _MISSING)
    if value is _MISSING:
        raise InvalidFlow(prefix + name, "missing")
    if not isinstance(value, expected):
        kinds = " or ".join(_type_name(kind) for kind in get_args(expected) or [expected])
        raise InvalidFlow(prefix + name, f"{type(value).__name__} where {kinds} is expected")
    return value


def _type_name(kind: type) -> str:
    return "None" if kind is type(None) else kind.__name__


def _message(kind: type[http.Message], state: dict, name: str, fields: dict[str, Any]) -> Any:
    """mitmproxy's Request or Response of a saved message. The fields the conversion reads are checked
    first, so that an error names the one that is wrong (mitmproxy's own checks do not say which message,
    and under -O do not run)."""
    message = _field(state, "", name, dict)
    prefix = name + "."
    for field, expected in fields.items():
        _field(message, prefix, field, expected)
    for pair in message["headers"]:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, bytes) for part in pair)):
            raise InvalidFlow(prefix + "headers", "not a list of name and value bytes")
    try:
        return kind.from_state(message)
    except (TypeError, ValueError):  # text that is no host name or not ASCII; a field it never reads, or one too many
        raise InvalidFlow(name, f"not a saved {name}") from None


def _time(value: float, field: str) -> None:
    if not EARLIEST <= value <= LATEST:  # NaN too
        raise InvalidFlow(field, "not a time between the years 1 and 9999")


@functools.lru_cache(maxsize=64)
def _mode_type(spec: str) -> str:
    try:
        return mode_specs.ProxyMode.parse(spec).type_name
    except ValueError:
        raise InvalidFlow("client_conn.proxy_mode", "not a proxy mode") from None


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


def _response(resp: http.Response, time: float | None = None, withheld: bool = False) -> Response:
    return Response(
        status=resp.status_code,
        headers=tuple((name.lower(), value) for name, value in resp.headers.items(multi=True)),
        time=resp.timestamp_start if time is None else time,  # when its headers arrived: it is judged then, live
        withheld=withheld,
        body=_decoded_body(resp),
    )


def _decoded_body(resp: http.Response) -> Body:
    """A response's body as a page or a JSON answer reads (its Content-Encoding undone), decoded only if read; unknown
    while it has not arrived (at its headers) or when it streamed past."""
    raw = resp.raw_content
    if raw is None:
        return Body(None)
    return Body(len(raw), lambda: resp.get_content(strict=False))


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
