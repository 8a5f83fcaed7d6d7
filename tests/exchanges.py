"""Builders of engine records for unit tests (the engine takes plain data, no flows needed)."""

from __future__ import annotations

import itertools

from redirect_audit.engine.model import Body, Request, Response

_ids = itertools.count(1)


def req(
    method="GET",
    url="http://a.example/start",
    body=b"",
    client="c1",
    headers=(),
    time=0.0,
    flow_id=None,
    connection=None,
):
    headers = tuple((name.lower(), value) for name, value in headers)
    return Request(
        flow_id=flow_id or f"flow-{next(_ids)}",
        client=client,
        method=method,
        url=url,
        headers=headers,
        body=body if isinstance(body, Body) else Body.of(body),
        time=time,
        connection=connection,
    )


def resp(status=302, location="/next", time=0.0, headers=()):
    pairs = tuple((name.lower(), value) for name, value in headers)
    if location is not None:
        pairs = (("location", location), *pairs)
    return Response(status=status, headers=pairs, time=time)
