#!/usr/bin/env python3
"""Offline throughput, side by side in one run: a generated flow file (half the requests answered with a 3xx
that is followed, POST bodies of 1 KB to 64 KB) read by

  A. bare `mitmproxy.io.FlowReader` iteration (deserialisation only: the practical limit),
  B. `redirect-audit analyze -q` (the same deserialisation, plus the whole audit),
  C. `mitmdump -n -r` without any addon (every flow through all of mitmproxy's own addons).

Each is run `--rounds` times, alternating, and medians and ratios are printed (ratios, not absolute times:
machines are shared and noisy).

    .venv/bin/python scripts/bench_offline.py --flows 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_rounds import alternate
from mitmproxy import http, io
from mitmproxy.test import tflow

BIN = Path(sys.executable).parent


def generate(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("wb") as file:
        writer = io.FlowWriter(file)
        t = 1_700_000_000.0
        n = 0
        while n < count:
            t += 0.01
            client = f"10.0.{rng.randrange(4)}.{rng.randrange(250)}"
            body = rng.randbytes(rng.choice([1024, 8192, 65536]))
            status = rng.choice([200, 301, 302, 303, 307, 308])
            method = "POST" if status in (307, 308, 200) else rng.choice(["GET", "POST"])
            path = f"/api/{n}"
            flows = [(method, path, body if method == "POST" else b"", status, f"/v2{path}" if status != 200 else None)]
            if status != 200:
                follow_method = method if status in (307, 308) else "GET"
                flows.append((follow_method, f"/v2{path}", body if follow_method == "POST" else b"", 200, None))
            for verb, target, content, code, location in flows:
                request = http.Request.make(verb, f"http://api.example.com{target}", content)
                request.timestamp_start = request.timestamp_end = t
                headers = {"location": location} if location else {}
                response = http.Response.make(code, b"ok", headers)
                response.timestamp_start = response.timestamp_end = t + 0.001
                flow = tflow.tflow(req=request, resp=response, live=False)
                flow.client_conn.peername = (client, 40000)
                writer.add(flow)
                n += 1
                t += 0.002


def bare(path: Path) -> None:
    with path.open("rb") as file:
        for _ in io.FlowReader(file).stream():
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="redirect-audit-bench-"))
    recording = workdir / "flows.mitm"
    print(f"generating {args.flows} flows ...", flush=True)
    generate(recording, args.flows)
    print(f"{recording}: {recording.stat().st_size / 1e6:.1f} MB", flush=True)
    contenders = {
        "A FlowReader": lambda: bare(recording),
        "B analyze": lambda: subprocess.run(
            [str(BIN / "redirect-audit"), "analyze", "-q", str(recording)], check=True, capture_output=True
        ),
        "C mitmdump -n -r": lambda: subprocess.run(
            [str(BIN / "mitmdump"), "-n", "-q", "-r", str(recording)], check=True, capture_output=True
        ),
    }
    medians, _ = alternate(contenders, args.rounds)
    for name, median in medians.items():
        print(f"{name:<18} median {median:7.2f} s  {args.flows / median:10.0f} flows/s")
    print(f"analyze / FlowReader time: {medians['B analyze'] / medians['A FlowReader']:.2f}")
    print(f"mitmdump -n -r / analyze time: {medians['C mitmdump -n -r'] / medians['B analyze']:.2f}")


if __name__ == "__main__":
    main()
