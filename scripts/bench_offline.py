#!/usr/bin/env python3
"""Offline throughput, side by side in one run. A generated flow file (half the requests answered with a 3xx
that is followed, POST bodies of 1 KB to 64 KB) read by

  A. bare `mitmproxy.io.FlowReader` iteration (deserialisation only: what reading a flow file costs),
  B. `redirect-audit analyze -q` (reading plus the whole audit),
  C. `mitmdump -n -q -r` without any addon (every flow through all of mitmproxy's own addons);

and the same traffic as a HAR file (mitmproxy's own HAR export of the first `--har-entries` flows) read by

  D. a plain `json.load` of the file,
  E. `redirect-audit analyze -q`.

Every contender is a command run as a subprocess, so each pays interpreter start-up and its imports. Each runs
`--rounds` times, alternating, and medians and ratios are printed (ratios, not absolute times: machines are
shared and noisy).

    .venv/bin/python scripts/bench_offline.py --flows 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_rounds import alternate
from mitmproxy import http, io
from mitmproxy.addons.savehar import SaveHar
from mitmproxy.test import tflow

BIN = Path(sys.executable).parent
BARE_FLOWREADER = "import sys; from mitmproxy import io\nfor _ in io.FlowReader(open(sys.argv[1], 'rb')).stream(): pass"
BARE_JSON = "import json, sys; json.load(open(sys.argv[1], 'rb'))"


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


def export_har(recording: Path, path: Path, entries: int) -> None:
    """mitmproxy's own HAR export of the recording's first flows, written an entry at a time."""
    exporter, servers_seen = SaveHar(), set()
    with recording.open("rb") as source, path.open("w") as har:
        har.write('{"log": {"version": "1.2", "creator": {"name": "mitmproxy", "version": ""}, "entries": [\n')
        for n, flow in enumerate(io.FlowReader(source).stream()):
            if n == entries:
                break
            har.write((",\n" if n else "") + json.dumps(exporter.flow_entry(flow, servers_seen)))
        har.write("\n]}}\n")


def command(*args: str):
    return lambda: subprocess.run(args, check=True, capture_output=True)


def race(contenders: dict, rounds: int, count: int, unit: str) -> dict[str, float]:
    """Run the contenders alternating, `rounds` times; print and return the median time of each."""
    medians, _ = alternate(contenders, rounds)
    for name, median in medians.items():
        print(f"  {name:<20} median {median:7.2f} s  {count / median:10.0f} {unit}/s")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--har-entries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="redirect-audit-bench-"))
    recording, har = workdir / "flows.mitm", workdir / "flows.har"
    print(f"generating {args.flows} flows and a HAR of the first {args.har_entries} ...", flush=True)
    generate(recording, args.flows)
    export_har(recording, har, args.har_entries)
    for path in (recording, har):
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB", flush=True)
    analyze = str(BIN / "redirect-audit"), "analyze", "-q"

    print(f"flow file, {args.flows} flows:")
    flows = race(
        {
            "A FlowReader": command(sys.executable, "-c", BARE_FLOWREADER, str(recording)),
            "B analyze": command(*analyze, str(recording)),
            "C mitmdump -n -r": command(str(BIN / "mitmdump"), "-n", "-q", "-r", str(recording)),
        },
        args.rounds,
        args.flows,
        "flows",
    )
    print(f"HAR, {args.har_entries} entries:")
    entries = race(
        {"D json.load": command(sys.executable, "-c", BARE_JSON, str(har)), "E analyze": command(*analyze, str(har))},
        args.rounds,
        args.har_entries,
        "entries",
    )
    print(f"analyze / FlowReader time: {flows['B analyze'] / flows['A FlowReader']:.2f} (target at most 1.2)")
    print(f"mitmdump -n -r / analyze time: {flows['C mitmdump -n -r'] / flows['B analyze']:.2f} (target at least 2)")
    print(f"HAR: analyze / json.load time: {entries['E analyze'] / entries['D json.load']:.2f}")


if __name__ == "__main__":
    main()
