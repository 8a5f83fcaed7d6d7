"""A flow file is read from the saved states, without building flows: the records must be exactly those the
live addon builds from the same flows (URL by proxy mode, client address, headers as mitmproxy decodes them,
bodies known or streamed), and flows other than HTTP are passed over."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import http, io
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import tflow

from redirect_audit.adapters.flowfile import FlowFileReader
from redirect_audit.adapters.flows import request_of, response_of

MODES = ["regular", "transparent", "reverse:http://backend.example:8080", "upstream:http://up.example:3128", "socks5"]
PEERS = [("10.0.0.7", 5000), ("::ffff:10.0.0.8", 5001), ("2001:db8::1", 5002, 0, 0), ("", 0)]
URLS = [
    "http://a.example/x?y=1",
    "https://a.example:8443/login",
    "http://[2001:db8::2]:8080/v6",
    "http://xn--bcher-kva.example/idn",
    "https://b.example/p%zz?q=%ff",
]
HEADER_BYTES = st.binary(min_size=1, max_size=12).filter(lambda b: b"\r" not in b and b"\n" not in b and b":" not in b)


def record(request):
    body = request.body
    return (
        request.flow_id,
        request.client,
        request.method,
        request.url,
        request.headers,
        request.time,
        (
            body.length,
            body.read(),
        ),
    )


@st.composite
def flows(draw):
    request = http.Request.make(
        draw(st.sampled_from(["GET", "POST", "put", "OPTIONS"])),
        draw(st.sampled_from(URLS)),
        draw(st.binary(max_size=40)),
    )
    for _ in range(draw(st.integers(0, 3))):
        request.headers.fields += ((draw(HEADER_BYTES), draw(st.binary(max_size=12))),)
    if draw(st.booleans()):
        request.headers["Host"] = draw(st.sampled_from(["other.example", "other.example:81", "[::1]:9"]))
    if draw(st.booleans()):
        request.raw_content = None  # streamed past the proxy
    request.timestamp_start = draw(st.floats(1e9, 2e9))
    response = None
    if draw(st.booleans()):
        response = http.Response.make(draw(st.sampled_from([200, 302, 307])), b"", {"Location": "/next"})
        response.headers.fields += ((b"Set-Cookie", draw(st.binary(max_size=12))),)
        response.timestamp_end = draw(st.none() | st.floats(1e9, 2e9))
    flow = tflow.tflow(req=request, resp=response or False, live=False)
    flow.client_conn.peername = draw(st.sampled_from(PEERS))
    flow.client_conn.proxy_mode = ProxyMode.parse(draw(st.sampled_from(MODES)))
    return flow


@settings(max_examples=150, deadline=None)
@given(recorded=st.lists(flows(), min_size=1, max_size=4))
def test_saved_flows_read_as_the_live_addon_sees_them(recorded, tmp_path_factory):
    path = tmp_path_factory.mktemp("flows") / "session.mitm"
    with path.open("wb") as file:
        writer = io.FlowWriter(file)
        for flow in recorded:
            writer.add(flow)
            writer.add(tflow.ttcpflow())  # not HTTP: passed over
    read = list(FlowFileReader(str(path)))
    assert [record(request) for request, _ in read] == [record(request_of(flow)) for flow in recorded]
    assert [response for _, response in read] == [response_of(f) if f.response else None for f in recorded]
