"""Recordings that never crash: a flow file saved from real traffic or a HAR, corrupted the ways real files
break (a length prefix, a timestamp, deep nesting, a huge length, an over-long number, a byte-order mark),
run through the real `redirect-audit analyze`. Each break is one line naming the file, the flow or entry
(numbered from 1), the byte offset and the field, never payload bytes; exit status 2; the findings read
before the break are kept, and the next input is still analysed."""

from __future__ import annotations

import gzip
import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http, io
from mitmproxy.io import tnetstring

from redirect_audit.adapters.flowfile import FlowFileReader, _states
from redirect_audit.adapters.flows import request_of, response_of
from redirect_audit.adapters.har import HarReader
from redirect_audit.auditor import Auditor
from redirect_audit.errors import RecordingError
from redirect_audit.rules.pack import RuleSet

from .harness.clients import send
from .harness.process import ProxyProcess

DATA = Path(__file__).parent / "data"
HAR = DATA / "har"
PASSWORD = "pw-Corrupt-4711"
LOGIN_BODY = f"username=alice&password={PASSWORD}".encode()
NEXT_INPUT = HAR / "redirecturl-only.har"  # a valid input after the broken one: body-dropped on api.example.com
KEPT = "(findings before that point are kept)"
RULES = RuleSet.load()


def analyze(tmp_path: Path, *inputs: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    report = tmp_path / "findings.jsonl"
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "redirect_audit.cli.main", "analyze", *map(str, inputs), "--report", str(report)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return done, [json.loads(line) for line in report.open()] if report.exists() else []


def error_line(done: subprocess.CompletedProcess) -> str:
    """The one line the break printed: exit status 2, no traceback, nothing else on stderr."""
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("redirect-audit analyze: ")
    return line.removeprefix("redirect-audit analyze: ")


def rules(findings: list[dict]) -> set[str]:
    return {finding["rule"] for finding in findings}


def next_input_analysed(findings: list[dict]) -> bool:
    return any(f["rule"] == "body-dropped" and "api.example.com" in f["redirect_url"] for f in findings)


def audit(reader: FlowFileReader | HarReader) -> RecordingError | None:
    """The reader's records through the auditor, as `analyze` feeds them; every finding must serialise."""
    findings, error = [], None
    try:
        for batch in Auditor(RULES).audit(reader):
            findings += batch
    except RecordingError as broken:
        error = broken
    for finding in findings:
        json.dumps(finding.record())
    return error


def flow_starts(data: bytes) -> list[int]:
    """The byte offset of each top-level tnetstring (flow) of a flow file."""
    starts, offset = [], 0
    while offset < len(data):
        starts.append(offset)
        colon = data.index(b":", offset)
        offset = colon + 1 + int(data[offset:colon]) + 1
    return starts


@pytest.fixture(scope="module")
def session(upstream, tmp_path_factory) -> Path:
    """Real traffic through `redirect-audit proxy --save`: flows 1-2 a GET whose Authorization urllib carries
    to another origin; flows 3-4 a login form (a password) answered 307 to another origin and re-posted;
    flow 5 a redirect nobody follows (a finding of the end of the input)."""
    workdir = tmp_path_factory.mktemp("session")
    saved = workdir / "session.mitm"
    proxy = ProxyProcess.cli(workdir, "--save", str(saved))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        send("urllib", "GET", upstream.go(302, upstream.url("/x", 1)), proxy=proxy.url,
             headers={"Authorization": "Bearer t-1"})  # fmt: skip
        send("requests", "POST", upstream.go(307, upstream.url("/cb", 1)), proxy=proxy.url, headers=form,
             body=LOGIN_BODY)  # fmt: skip
        send("requests", "GET", upstream.url("/redirect?status=302&to=/nowhere"), proxy=proxy.url, follow=False)
    finally:
        proxy.stop(signal.SIGINT)
    states = states_of(saved)
    assert [(s["request"]["method"], s["response"]["status_code"]) for s in states] == [
        (b"GET", 302), (b"GET", 200), (b"POST", 307), (b"POST", 200), (b"GET", 302)
    ]  # fmt: skip
    assert states[2]["request"]["content"] == LOGIN_BODY
    return saved


def states_of(path: Path) -> list[dict]:
    data = path.read_bytes()
    return [tnetstring.loads(data[start:]) for start in flow_starts(data)]


def write_states(path: Path, states: list[dict]) -> Path:
    path.write_bytes(b"".join(tnetstring.dumps(state) for state in states))
    return path


# Flow files


@pytest.mark.parametrize(
    ("corrupt", "problem"), [(b"x9", "no length prefix"), (b"38", "a length that ends at no type byte")]
)  # 38: the body's last byte, a digit, is where its type byte should be
def test_a_corrupt_form_body_length_names_the_field_never_the_password(session, tmp_path, corrupt, problem):
    data = session.read_bytes()
    third = flow_starts(data)[2]
    prefix = data.index(b"7:content;%d:%s," % (len(LOGIN_BODY), LOGIN_BODY), third) + len(b"7:content;")
    assert len(str(len(LOGIN_BODY))) == len(corrupt)  # same size: only the body's own prefix is wrong
    broken = tmp_path / "broken.mitm"
    broken.write_bytes(data[:prefix] + corrupt + data[prefix + len(corrupt) :])
    done, findings = analyze(tmp_path, broken, NEXT_INPUT)
    assert error_line(done) == (
        f"{broken}: flow 3 (byte {third}): corrupt or truncated flow file "
        f"(request.content at byte {prefix}: {problem}) {KEPT}"
    )
    assert PASSWORD not in done.stdout + done.stderr
    assert "authorization-cross-origin" in rules(findings)  # flows 1-2, before the break
    assert not {"credential-post-307", "credentials-forwarded"} & rules(findings)  # the broken flow and after
    assert next_input_analysed(findings)


@pytest.mark.parametrize(
    ("message", "field", "value"),
    [
        ("request", "timestamp_start", 1e300),
        ("request", "timestamp_start", math.nan),
        ("request", "timestamp_start", math.inf),
        ("request", "timestamp_start", -1e18),
        ("response", "timestamp_start", 1e300),  # the response's time is when its headers came
    ],
)
def test_a_timestamp_no_report_can_print_is_an_invalid_flow(session, tmp_path, message, field, value):
    states = states_of(session)
    states[2][message][field] = value
    broken = write_states(tmp_path / "broken.mitm", states)
    third = flow_starts(broken.read_bytes())[2]
    done, findings = analyze(tmp_path, broken, NEXT_INPUT)
    assert error_line(done) == (
        f"{broken}: flow 3 (byte {third}): not a valid flow "
        f"({message}.{field}: not a time between the years 1 and 9999) {KEPT}"
    )
    assert "authorization-cross-origin" in rules(findings) and next_input_analysed(findings)


def test_one_byte_changed_in_a_timestamp(session, tmp_path):
    """`1733...123.456` becomes `1733...123e456`: the same length, a valid tnetstring, an infinite time."""
    data = session.read_bytes()
    third = flow_starts(data)[2]
    request = data.index(b"7:request;", third)
    stamp = data.index(b"15:timestamp_start;", request) + len(b"15:timestamp_start;")
    dot = data.index(b".", stamp)
    broken = tmp_path / "broken.mitm"
    broken.write_bytes(data[:dot] + b"e" + data[dot + 1 :])
    done, findings = analyze(tmp_path, broken, NEXT_INPUT)
    assert error_line(done).startswith(f"{broken}: flow 3 (byte {third}): not a valid flow (request.timestamp_start: ")
    assert "authorization-cross-origin" in rules(findings) and next_input_analysed(findings)


def deeply_nested(levels: int) -> bytes:
    """A flow-like dictionary whose metadata is `levels` lists deep, built from the inside out in linear time."""
    lengths, inner = [], 3  # the innermost value: 0:~
    for _ in range(levels):
        lengths.append(inner)
        inner += len(str(inner)) + 2
    nested = b"".join(b"%d:" % length for length in reversed(lengths)) + b"0:~" + b"]" * levels
    content = b"8:metadata;" + nested
    return b"%d:%s}" % (len(content), content)


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        (deeply_nested(100_000), "nested too deeply"),
        (b"999999999999:", "the file ends inside this flow"),
        (b"12:", "the file ends inside this flow"),
        (b"hello", "no length prefix where a flow starts"),
    ],
    ids=["deep-nesting", "huge-length", "cut", "not-tnetstring"],
)
def test_a_break_after_valid_flows_keeps_every_finding(session, tmp_path, tail, problem):
    data = session.read_bytes()
    broken = tmp_path / "broken.mitm"
    broken.write_bytes(data + tail)
    done, findings = analyze(tmp_path, broken, NEXT_INPUT)
    line = error_line(done)
    assert line.startswith(f"{broken}: flow 6 (byte {len(data)}): corrupt or truncated flow file (") and problem in line
    assert line.endswith(KEPT)
    assert {"authorization-cross-origin", "credential-post-307", "credentials-forwarded"} <= rules(findings)
    assert "not-followed" in rules(findings)  # flow 5's redirect, judged at the end of the input
    assert next_input_analysed(findings)


def test_deep_nesting_is_refused_at_a_bounded_depth(session, tmp_path):
    broken = tmp_path / "deep.mitm"
    broken.write_bytes(deeply_nested(100_000))
    line = error_line(analyze(tmp_path, broken)[0])
    assert line.startswith(f"{broken}: flow 1 (byte 0): corrupt or truncated flow file (metadata[0][0]")
    assert line.endswith(": nested too deeply)")  # nothing was read before: no promise of findings kept


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["request"].update(method=7), "request.method: int where bytes or str is expected"),
        (lambda s: s["request"].pop("host"), "request.host: missing"),
        (lambda s: s["request"].update(headers=[[b"a", b"b", b"c"]]), "request.headers: not a list of name and"),
        (lambda s: s["response"].update(status_code=b"307"), "response.status_code: bytes where int is expected"),
        (lambda s: s["client_conn"].update(peername=5), "client_conn.peername: int where list or None is expected"),
        (lambda s: s["client_conn"].update(proxy_mode="nonsense:x"), "client_conn.proxy_mode: not a proxy mode"),
        (lambda s: s.update(version=99), "version: format 99: a newer mitmproxy than"),
        (lambda s: s.update(version="x"), "version: not a flow of a format mitmproxy"),
        (
            lambda s: s.update(metadata={"redirect_audit_withheld": {"status_code": 307, "headers": "Location"}}),
            "metadata.redirect_audit_withheld.headers: str where list is expected",
        ),
    ],
)
def test_a_well_formed_value_that_is_no_valid_flow_names_the_field(session, tmp_path, change, message):
    states = states_of(session)
    change(states[0])
    broken = write_states(tmp_path / "broken.mitm", states)
    line = error_line(analyze(tmp_path, broken, NEXT_INPUT)[0])
    assert line.startswith(f"{broken}: flow 1 (byte 0): not a valid flow ({message}")
    assert KEPT not in line  # the first flow: nothing was read before it


OLD_FORMATS = sorted((DATA / "flow-formats").glob("dumpfile-*.mitm"))


@pytest.mark.parametrize("path", OLD_FORMATS, ids=[path.stem for path in OLD_FORMATS])
def test_every_format_version_mitmproxy_reads(path):
    """mitmproxy's own recordings of older format versions (0.11 to 19) read exactly as its FlowReader reads
    them; the same file read by both mitmproxy 11 and 12."""
    with path.open("rb") as file:
        flows = [flow for flow in io.FlowReader(file).stream() if isinstance(flow, http.HTTPFlow)]
    read = list(FlowFileReader(str(path)))
    assert flows and len(read) == len(flows)
    for (request, response), flow in zip(read, flows, strict=True):
        expected = request_of(flow)
        assert (request.url, request.method, request.headers, request.time, request.client) == (
            expected.url, expected.method, expected.headers, expected.time, expected.client
        )  # fmt: skip
        assert request.body.read() == expected.body.read()
        assert response == (response_of(flow) if flow.response else None)


def test_a_format_mitmproxy_cannot_read(tmp_path):
    path = DATA / "flow-formats" / "unreadable-010.mitm"
    line = error_line(analyze(tmp_path, path)[0])
    assert line.startswith(f"{path}: flow 1 (byte 0): not a valid flow (version: not a flow of a format mitmproxy ")


# What the tnetstring reader returns, and what it never does

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.binary(max_size=20) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.dictionaries(st.text(max_size=8), VALUES, max_size=5), min_size=1, max_size=3))
def test_the_reader_returns_what_mitmproxys_returns(tmp_path, values):
    path = tmp_path / "values.tnet"
    path.write_bytes(b"".join(map(tnetstring.dumps, values)))
    with path.open("rb") as file:
        read = [state for _, state in _states(file, path.stat().st_size)]
    with path.open("rb") as file:
        assert read == [tnetstring.load(file) for _ in values]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupt_bytes_anywhere_give_a_clean_error_without_payload(session, tmp_path_factory, data):
    """Bytes overwritten (mostly in place, so that the framing holds and the damage is inside a flow), inserted
    or deleted anywhere in the login flows of the real session: records the auditor judges and reports without
    an exception, then at most a RecordingError without the password."""
    recording = session.read_bytes()
    starts = flow_starts(recording)
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(starts[2], starts[4]))
        replacement = data.draw(st.binary(max_size=4) | st.sampled_from([b"e", b"x", b"9", b"]", b"}"]))
        removed = data.draw(st.just(len(replacement)) | st.integers(0, 8))  # mostly in place: the framing holds
        recording = recording[:position] + replacement + recording[position + removed :]
    path = tmp_path_factory.mktemp("corrupt") / "corrupt.mitm"
    path.write_bytes(recording)
    error = audit(FlowFileReader(str(path)))
    assert error is None or (PASSWORD not in str(error) and "alice" not in str(error))


# HAR files and telling the kinds apart


def test_a_har_entry_with_a_5000_digit_number(tmp_path):
    document = json.loads((HAR / "chromium-login-307.har").read_text())
    entries = document["log"]["entries"]
    entries[2]["time"] = "HUGE"
    texts = [json.dumps(entry) for entry in entries]
    texts[2] = texts[2].replace('"HUGE"', "1" * 5000)
    head = '{"log": {"version": "1.2", "entries": ['
    path = tmp_path / "huge.har"
    path.write_text(head + ", ".join(texts) + "]}}")
    offset = len(head) + len(texts[0]) + len(texts[1]) + 4
    done, findings = analyze(tmp_path, path, NEXT_INPUT)
    assert error_line(done) == (
        f"{path}: entry 3 (byte {offset}): unreadable JSON (a number too long to read at byte {offset}) {KEPT}"
    )
    assert "credential-post-307" in rules(findings)  # judged on entry 2, the 307, before the break
    assert next_input_analysed(findings)


HAR_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 10**4000, 0, -1])
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["\u00b2", "\u0663\u0660\u0667", " 307 ", "1" * 5000, "2026-11-24T10:00:00Z", "+275760-09-13"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["name", "value"]), children),
    max_leaves=8,
)
HAR_FIELDS = [
    ("startedDateTime",), ("time",), ("connection",), ("request",), ("response",), ("request", "method"),
    ("request", "url"), ("request", "headers"), ("request", "bodySize"), ("request", "postData"),
    ("response", "status"), ("response", "headers"), ("response", "redirectURL"),
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(HAR_FIELDS), HAR_VALUES, min_size=1, max_size=4))
def test_any_json_value_in_any_har_field_is_read_or_refused_cleanly(tmp_path_factory, changes):
    """The follow-up of a 307 login with its fields replaced by any JSON value (numbers too long for a float
    or for int(), digits int() does not read, dates outside datetime's range): records the auditor judges
    and reports, or a RecordingError; never another exception."""
    document = json.loads((HAR / "chromium-login-307.har").read_text())
    followup = document["log"]["entries"][2]
    for field, value in changes.items():
        *parents, name = field
        target = followup
        for parent in parents:
            target = target[parent] if isinstance(target.get(parent), dict) else target.setdefault(parent, {})
        if isinstance(target, dict):
            target[name] = value
    path = tmp_path_factory.mktemp("fields") / "fields.har"
    path.write_text(json.dumps(document))
    audit(HarReader(str(path)))


@pytest.mark.parametrize("lead", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n  ", b"\n\t "], ids=["bom", "bom-space", "space"])
def test_a_har_with_a_byte_order_mark_or_leading_space_gives_the_same_findings(tmp_path, lead):
    plain = HAR / "chromium-login-307.har"
    marked = tmp_path / "marked.har"
    marked.write_bytes(lead + plain.read_bytes())
    done, findings = analyze(tmp_path, marked)
    assert done.returncode == 0, done.stderr
    expected = analyze(tmp_path, plain)[1]
    assert {"credential-post-307", "credentials-forwarded"} <= rules(findings)
    assert [(f["rule"], f["redirect_url"], f["followup_url"]) for f in findings] == [
        (f["rule"], f["redirect_url"], f["followup_url"]) for f in expected
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"log": {"entries": []}}]', "byte 0: not a HAR file (a JSON array: HAR is an object)"),
        (b"\xef\xbb\xbf  [1]", "byte 5: not a HAR file (a JSON array: HAR is an object)"),
        (gzip.compress(b'{"log": {"entries": []}}'), "byte 0: neither a HAR file nor a flow file (it looks like gzip"),
        (b"\n<html><body>Not found</body></html>", "byte 1: neither a HAR file nor a flow file (it looks like HTML"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n", "byte 0: neither a HAR file nor a flow file (it looks like text)"),
        (b"\x00\x01secret", "byte 0: neither a HAR file nor a flow file (it looks like binary data)"),
        (b"", "byte 0: empty file"),
        (b" \r\n\t" * 20_000, "byte 80000: empty file"),
    ],
)
def test_what_an_unreadable_file_looked_like(tmp_path, content, message):
    path = tmp_path / "input.har"
    path.write_bytes(content)
    done, findings = analyze(tmp_path, path, NEXT_INPUT)
    line = error_line(done)
    assert line.startswith(f"{path}: {message}") and KEPT not in line
    assert "secret" not in line
    assert next_input_analysed(findings)


def test_a_missing_file_promises_nothing_kept(tmp_path):
    line = error_line(analyze(tmp_path, tmp_path / "nowhere.mitm", NEXT_INPUT)[0])
    assert line == f"{tmp_path / 'nowhere.mitm'}: open: No such file or directory"
