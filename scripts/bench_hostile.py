#!/usr/bin/env python3
"""Hostile input against the engine's parsers: time per MB of each family at 100 KB and at 1 MB.

Each family is one request (and its 3xx) built to be as hard as its kind allows for a parser that is not linear:
multipart heads, long query strings, a run of `?`, deep JSON, long Locations, parameter values that nest URLs,
and content-coding bombs (1 MB that expands to about 1 GiB). Each runs through what the proxy runs for a 3xx:
`Auditor.response` with the default rules and a rule that fires on every redirect, so that credential extraction,
the Location facts and the redaction of every URL in the finding all do their work, and the finding is encoded as
the report writes it. A linear parser shows the same time per MB at both sizes (ratio about 1; noise on a shared
machine moves it by a few tenths); a quadratic one, ten times as much at 1 MB.

    .venv/bin/python scripts/bench_hostile.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import brotli
import zstandard

from redirect_audit.auditor import Auditor
from redirect_audit.engine.model import Body, Request, Response
from redirect_audit.rules.pack import RuleSet

ORIGIN, OTHER = "http://app.example.com", "http://other.example.net"
EVERY_REDIRECT = """rules:
  - id: every-redirect
    title: Redirect audited
    severity: info
    on: response
    description: Fires on every redirect, with the URL facts as evidence.
    when: {location_raw: {ne: null}, redirect_url: {ne: ""}, location: {ne: ""}}
"""
FORM, MULTIPART, JSON = "application/x-www-form-urlencoded", "multipart/form-data; boundary=B", "application/json"
LONG_HEAD_PART = b'--B\r\nContent-Disposition: form-data; name="a"; filename="' + b"\\x" * 500 + b'"\r\n\r\nv\r\n'
SIZES = {"100 KB": 100_000, "1 MB": 1_000_000}


def repeated(unit: str | bytes, size: int):
    return unit * (size // len(unit))


def bomb(encoder: Callable[[], tuple[Callable[[bytes], bytes], Callable[[], bytes]]], size: int) -> bytes:
    """A form body about `size` bytes long once encoded that expands a thousandfold: zeros (gzip's best ratio is
    about 1,000; brotli's and zstd's far more, so random bytes pad them to `size`)."""
    compress, flush = encoder()
    chunk = bytes(1 << 20)
    encoded = [compress(b"password=")] + [compress(chunk) for _ in range(size * 1000 // len(chunk))]
    encoded.append(compress(random.Random(size).randbytes(max(0, size - sum(map(len, encoded))))))
    return b"".join(encoded) + flush()


def _gzip():
    encoder = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return encoder.compress, encoder.flush


def _brotli():
    encoder = brotli.Compressor(quality=5)
    return encoder.process, encoder.finish


def _zstd():
    encoder = zstandard.ZstdCompressor().compressobj()
    return encoder.compress, encoder.flush


# family: size -> (request URL, Content-Type, Content-Encoding, body, Location)
FAMILIES: dict[str, Callable[[int], tuple[str, str | None, str | None, bytes, str]]] = {
    "multipart: one head line": lambda size: (
        f"{ORIGIN}/upload", MULTIPART, None,
        b"--B\r\n" + repeated(b"Content-Disposition: form-data; ", size) + b"\r\n\r\nx\r\n--B--\r\n", f"{OTHER}/cb",
    ),
    "multipart: many heads": lambda size: (
        f"{ORIGIN}/upload", MULTIPART, None,
        repeated(LONG_HEAD_PART, size) + b"--B--\r\n", f"{OTHER}/cb",
    ),
    "query: many parameters": lambda size: (
        f"{ORIGIN}/go?" + repeated("next=x&access_token=t;u&", size), None, None, b"", f"{OTHER}/cb",
    ),
    "query: a run of ?": lambda size: (f"{ORIGIN}/go" + "?" * size, None, None, b"", "/landing" + "?" * size),
    "query: nested URL values": lambda size: (
        f"{ORIGIN}/go?next=" + repeated("http%253A%252F%252Fb%252F%253Faccess_token%253D", size), None, None, b"",
        f"{OTHER}/cb",
    ),
    "form body: many fields": lambda size: (
        f"{ORIGIN}/login", FORM, None, repeated(b"password=p&next=%2Fx&", size), f"{OTHER}/cb",
    ),
    "JSON: deep arrays": lambda size: (f"{ORIGIN}/api", JSON, None, repeated(b"[", size), f"{OTHER}/cb"),
    "JSON: many nested objects": lambda size: (
        f"{ORIGIN}/api", JSON, None, b"[" + repeated(b'{"a":{"b":{"password":"p"}}},', size) + b"0]", f"{OTHER}/cb",
    ),
    "Location: userinfo and @": lambda size: (
        f"{ORIGIN}/go", None, None, b"", "http://" + repeated("u:p@", size) + "h/",
    ),
    "Location: backslashes": lambda size: (f"{ORIGIN}/go", None, None, b"", "http:" + "\\" * size + "u:p@h"),
    "Location: long query": lambda size: (
        f"{ORIGIN}/go", None, None, b"", f"{OTHER}/cb?" + repeated("id_token=a;b&state=%3F&", size),
    ),
    "gzip bomb": lambda size: (f"{ORIGIN}/login", FORM, "gzip", bomb(_gzip, size), f"{OTHER}/cb"),
    "brotli bomb": lambda size: (f"{ORIGIN}/login", FORM, "br", bomb(_brotli, size), f"{OTHER}/cb"),
    "zstd bomb": lambda size: (f"{ORIGIN}/login", FORM, "zstd", bomb(_zstd, size), f"{OTHER}/cb"),
}  # fmt: skip


def audit_once(rules: RuleSet, url: str, content_type: str | None, encoding: str | None, body: bytes, location: str):
    """What the proxy does for one 3xx: a fresh auditor (nothing pending from earlier runs), the response
    judged, and its findings encoded as the report writes them."""
    headers = [("content-type", content_type), ("content-encoding", encoding)]
    request = Request(
        "flow-1", "10.0.0.1", "POST" if body else "GET", url,
        tuple((name, value) for name, value in headers if value), Body.of(body), 0.0,
    )  # fmt: skip
    findings = Auditor(rules).response(request, Response(307, (("location", location),), 0.1))
    return len(json.dumps([finding.record() for finding in findings]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with TemporaryDirectory() as workdir:
        rule_file = Path(workdir) / "every-redirect.yaml"
        rule_file.write_text(EVERY_REDIRECT)
        rules = RuleSet.load([rule_file])
    print(f"{'family':<28}" + "".join(f"{size + ' s/MB':>14}" for size in SIZES) + f"{'ratio':>8}", flush=True)
    for family, make in FAMILIES.items():
        per_mb = {}
        for label, size in SIZES.items():
            inputs = make(size)
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                audit_once(rules, *inputs)
                times.append(time.perf_counter() - start)
            per_mb[label] = statistics.median(times) / (size / 1e6)
        small, large = per_mb.values()
        print(f"{family:<28}" + "".join(f"{value:14.4f}" for value in per_mb.values()) + f"{large / small:8.2f}")


if __name__ == "__main__":
    main()
