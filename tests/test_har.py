"""HarReader: HAR files as Chrome and Firefox DevTools and Playwright really write them, read into the records
the live proxy would have produced and judged by the real auditor; broken files (cut at any byte, corrupt,
not HAR at all) end in a RecordingError that says where, after every entry read before the break."""

from __future__ import annotations

import base64
import errno
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redirect_audit.adapters import har
from redirect_audit.adapters.har import HarReader
from redirect_audit.auditor import Auditor, Finding
from redirect_audit.engine.model import Request, Response
from redirect_audit.engine.pairing import Stats
from redirect_audit.errors import RecordingError
from redirect_audit.rules.pack import RuleSet

HAR = Path(__file__).parent / "data" / "har"
RULES = RuleSet.load()


@dataclass
class Audit:
    records: list[tuple[Request, Response | None]]
    bodies: dict[str, bytes | None]  # by flow id, as read (the auditor keeps only a digest once compared)
    findings: list[Finding]
    error: RecordingError | None
    skipped: int
    stats: Stats


def audit(path: Path) -> Audit:
    """Feed a HAR through the auditor as `redirect-audit analyze` does, keeping what came before a break."""
    auditor, reader = Auditor(RULES), HarReader(str(path))
    records, bodies, findings, error = [], {}, [], None

    def kept(exchanges):
        for request, response in exchanges:
            records.append((request, response))
            bodies[request.flow_id] = request.body.read()
            yield request, response

    try:
        for batch in auditor.audit(kept(reader)):
            findings += batch
    except RecordingError as broken:
        error = broken
    return Audit(records, bodies, findings, error, reader.skipped, auditor.stats)


def rules(findings: list[Finding]) -> set[str]:
    return {finding.rule for finding in findings}


def finding(findings: list[Finding], rule: str) -> Finding:
    (found,) = [f for f in findings if f.rule == rule]
    return found


def snapshot(record: tuple[Request, Response | None]) -> tuple:
    """Everything the engine reads of a record, as plain data."""
    request, response = record
    body = (request.body.length, request.body.read())
    seen = (request.flow_id, request.client, request.method, request.url, request.headers, body, request.time)
    return seen + ((response.status, response.headers, response.time) if response else (None,))


def read_all(path: Path) -> tuple[list[tuple], RecordingError | None]:
    records = []
    try:
        for record in HarReader(str(path)):
            records.append(snapshot(record))
    except RecordingError as error:
        return records, error
    return records, None


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def entry_offsets(data: bytes) -> list[int]:
    """Byte offsets of the entries of a pretty-printed HAR (each opens a line, six spaces in)."""
    start = data.index(b'"entries": [')
    return [start + match.start() + 7 for match in re.finditer(rb"\n {6}\{", data[start:])]


def entry(url: str = "https://a.example/", start: str = "2026-11-24T10:00:00Z", **fields: Any) -> dict:
    request = {"method": fields.pop("method", "GET"), "url": url, **fields.pop("request", {})}
    return {"startedDateTime": start, "request": request, "response": {"status": 200}, **fields}


def write(tmp_path: Path, document: dict | list | str | bytes, name: str = "case.har") -> Path:
    path = tmp_path / name
    if isinstance(document, dict | list):
        document = json.dumps(document)
    path.write_bytes(document if isinstance(document, bytes) else document.encode())
    return path


def har_of(*entries: object) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": list(entries)}}


# Real exports


def test_chrome_devtools_export():
    """Chrome's Export HAR: HTTP/2 pseudo-headers (and an old Chrome's `:status`), a login POST answered
    307 to another origin and re-posted there, a POST→302→GET, a 302 GET→GET, a WebSocket handshake."""
    result = audit(HAR / "chrome-devtools.har")
    assert result.error is None and result.skipped == 0
    seen = [(r.flow_id, r.method, r.url, resp.status if resp else None) for r, resp in result.records]
    assert seen == [
        ("chrome-devtools.har#0", "GET", "https://shop.example.com/account", 302),
        ("chrome-devtools.har#1", "GET", "https://shop.example.com/login?next=%2Faccount", 200),
        ("chrome-devtools.har#2", "POST", "https://shop.example.com/login", 307),
        ("chrome-devtools.har#3", "POST", "https://sso.partner-idp.example/authorize/login", 302),
        ("chrome-devtools.har#4", "GET", "https://shop.example.com/account?login=ok", 200),
        ("chrome-devtools.har#5", "GET", "https://shop.example.com/live", 101),  # wss: an https request on the wire
    ]
    for request, response in result.records:
        assert request.client == "recording"
        assert not any(name.startswith(":") for name, _ in request.headers + response.headers)
    (account, _), _, (login, redirect), (repost, _), *_ = result.records
    assert account.headers[0] == ("host", "shop.example.com")  # from :authority
    assert result.bodies[login.flow_id] == b"next=%2Faccount&username=zo%C3%AB&password=correct+horse+battery"
    assert ("cookie", "__Host-sid=7Qm2vXb81") in login.headers
    assert redirect.locations == ["https://sso.partner-idp.example/authorize/login"]
    assert login.time == at("2026-11-24T09:15:09.512+00:00")
    assert redirect.time == pytest.approx(login.time + 0.0883)
    assert repost.body.length == 64
    assert rules(result.findings) == {"credential-post-307", "credentials-forwarded", "post-became-get"}
    assert finding(result.findings, "credential-post-307").flows == {
        "redirect": "chrome-devtools.har#2",
        "followup": None,
    }
    forwarded = finding(result.findings, "credentials-forwarded")
    assert forwarded.flows == {"redirect": "chrome-devtools.har#2", "followup": "chrome-devtools.har#3"}
    assert forwarded.evidence["credentials_forwarded"] == ["form:password"]
    assert forwarded.severity == "critical"
    assert finding(result.findings, "post-became-get").flows["followup"] == "chrome-devtools.har#4"
    assert result.stats.redirects == result.stats.followed == 3


def test_chromium_through_playwright_export():
    result = audit(HAR / "chromium-login-307.har")
    assert [(r.method, resp.status) for r, resp in result.records] == [("GET", 200), ("POST", 307), ("POST", 200)]
    assert ("host", "idp.example.com") in result.records[1][0].headers
    assert {"credential-post-307", "credentials-forwarded"} <= rules(result.findings)


def test_firefox_params_without_text():
    """Firefox can leave postData.text out: the urlencoded form is rebuilt from postData.params."""
    result = audit(HAR / "firefox-params-only.har")
    (_, _), (login, response), (followup, _) = result.records
    assert result.bodies[login.flow_id] == result.bodies[followup.flow_id] == b"username=alice&password=hunter2"
    assert response.locations == ["https://app.example.net/callback"]
    assert {"credential-post-307", "credentials-forwarded"} <= rules(result.findings)


def test_firefox_multipart_params_offsets_and_fragments():
    """A multipart upload known only by its params still has a body (its length is what rules need); Firefox
    writes times with an offset; a fragment in an entry's URL never travelled, so it is not in the record."""
    result = audit(HAR / "firefox-multipart.har")
    (upload, see_other), (page, _), (share, found), (again, _) = result.records
    assert result.bodies[upload.flow_id] == b"title=Q3+report&file="
    assert ("host", "files.example.org") in upload.headers
    assert upload.time == at("2026-11-24T09:15:03.287+00:00")
    assert see_other.status == 303 and see_other.locations == ["/files/42"]
    assert found.locations == ["https://files.example.org/files/42#preview"]
    assert again.url == page.url == "https://files.example.org/files/42"
    assert result.findings == []  # 303→GET and 302 GET→GET done right
    assert result.stats.redirects == result.stats.followed == 2


def test_playwright_export_and_bodies_it_only_sizes():
    """Playwright (record_har_path) keeps form text; an application/octet-stream body it only sizes
    (text "", bodySize) is unknown, so body rules stay silent rather than call it dropped."""
    result = audit(HAR / "playwright-login.har")
    login, repost, _, (upload, _), (reupload, _) = result.records
    form = b"login=bob&pin=4711&passwd=s3cr%C3%A9t"
    assert result.bodies[login[0].flow_id] == result.bodies[repost[0].flow_id] == form
    assert login[1].status == 308
    assert upload.body.length is None and reupload.body.length is None
    assert rules(result.findings) == {"credential-post-307", "credentials-forwarded"}
    forwarded = finding(result.findings, "credentials-forwarded")
    assert forwarded.evidence["credentials_forwarded"] == ["form:passwd", "form:pin"]


def test_base64_post_data_is_judged_decoded(tmp_path):
    """Some exporters write postData base64 (`encoding`): credentials are found in the decoded form."""
    text = base64.b64encode(b"user=a&password=hunter2").decode()
    post = {"mimeType": "application/x-www-form-urlencoded", "text": text, "encoding": "base64"}
    redirect = {"status": 307, "headers": [{"name": "location", "value": "https://b.example/"}]}
    first = entry(method="POST", request={"postData": post}, response=redirect)
    followup = entry("https://b.example/", "2026-11-24T10:00:01Z", method="POST", request={"postData": post})
    result = audit(write(tmp_path, har_of(first, followup)))
    assert result.bodies["case.har#0"] == b"user=a&password=hunter2"
    assert rules(result.findings) == {"credential-post-307", "credentials-forwarded"}


def test_base64_bodies_are_compared_decoded():
    result = audit(HAR / "playwright-base64.har")
    assert "body-altered" not in rules(result.findings)  # re-posted unchanged
    assert finding(result.findings, "body-dropped").followup_url == "https://gateway.example.com/hooks/v2"


def test_missing_optional_fields_order_and_skipped_entries():
    reader = HarReader(str(HAR / "minimal-fields.har"))
    records = list(reader)
    assert reader.skipped == 2  # a string, and a request without url
    assert [r.flow_id for r, _ in records] == [f"minimal-fields.har#{i}" for i in (1, 0, 2, 3)]  # by start time
    assert all(r.headers == () and r.body.length == 0 for r, _ in records)
    assert records[0][1].time == records[0][0].time  # no `time`: the response is as old as the request
    assert records[-1][1] is None  # status 0: no response
    assert rules(audit(HAR / "minimal-fields.har").findings) == {"head-became-get"}


def test_location_given_only_as_redirect_url():
    result = audit(HAR / "redirecturl-only.har")
    assert result.records[0][1].locations == ["https://api.example.com/v2/items/7"]
    assert rules(result.findings) == {"body-dropped"}  # the PUT's body did not survive the 301


def test_empty_entries():
    result = audit(HAR / "empty.har")
    assert result.records == [] and result.error is None


# Broken files


def test_truncated_file_keeps_the_entries_before_the_cut():
    path = HAR / "truncated.har"
    result = audit(path)
    assert [r.flow_id for r, _ in result.records] == ["truncated.har#0", "truncated.har#1"]
    offset = entry_offsets(path.read_bytes())[2]
    assert str(result.error) == f"{path}: entry 3 (byte {offset}): truncated JSON (findings before that point are kept)"
    assert (result.error.path, result.error.where) == (str(path), f"entry 3 (byte {offset})")
    assert rules(result.findings) == {"credential-post-307", "not-followed"}  # the 307 before the cut


def test_chrome_export_cut_mid_entry(tmp_path):
    data = (HAR / "chrome-devtools.har").read_bytes()
    offsets = entry_offsets(data)
    path = write(tmp_path, data[: offsets[3] + 900], "session.har")
    result = audit(path)
    assert len(result.records) == 3
    kept = "(findings before that point are kept)"
    assert str(result.error) == f"{path}: entry 4 (byte {offsets[3]}): truncated JSON {kept}"
    assert len(data[: offsets[3]].decode()) < offsets[3]  # non-ASCII before it: bytes are counted, not characters
    assert rules(result.findings) == {"credential-post-307", "not-followed"}


def test_not_json_is_refused_before_anything_is_read():
    records = iter(HarReader(str(HAR / "not-json.har")))
    with pytest.raises(RecordingError, match=r"not-json\.har: byte 1: not JSON \(expected a key\)"):
        next(records)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "byte 0: empty file"),
        (b"[1, 2]", "byte 0: not a HAR file (a JSON array: HAR is an object)"),
        (b"<html>Not found</html>", "byte 0: not JSON, or not a HAR file"),
        (b'{"log": {"version": "1.2", "pages": []}}', "log.entries: not a HAR file (no log.entries list)"),
        (b'{"log": {"entries": null}}', "byte 20: not a HAR file (log.entries is not a list)"),
        (b'{"log": []}', "byte 8: not a HAR file (log is not an object)"),
        (b'{"log": {"pages": [{"id": "page_1", "title": "Sig', "byte 18: truncated before log.entries"),
        (b'{"log": {"pages": ' + b"[" * 100_000, "byte 18: not JSON (nested too deeply)"),
        (b'{"log": {"version" "1.2"}}', "byte 19: not JSON (expected ':')"),
        (b'{"log": {"entries": ', "byte 20: truncated before log.entries"),
        (b'{"log"', "byte 6: truncated before log.entries"),
    ],
)
def test_not_a_har_file(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(RecordingError) as raised:
        next(iter(HarReader(str(path))))
    assert str(raised.value) == f"{path}: {message}"


def test_a_read_error_is_a_break_like_any_other():
    data = (HAR / "chrome-devtools.har").read_bytes()
    offsets = entry_offsets(data)

    class FailingDisk(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= offsets[2]:
                raise OSError(errno.EIO, "Input/output error")
            return super().read(size)

    with mock.patch.object(har, "_CHUNK", offsets[2]), mock.patch.object(har, "open", create=True) as opened:
        opened.side_effect = lambda path, mode: FailingDisk(data)
        records, error = read_all(HAR / "chrome-devtools.har")
    assert len(records) == 2
    assert (error.where, error.message) == (
        f"entry 3 (byte {offsets[2]})",
        f"read error (Input/output error at byte {offsets[2]})",
    )


def test_missing_file():
    with pytest.raises(RecordingError, match="nowhere.har: open: No such file or directory"):
        list(HarReader("/nonexistent/nowhere.har"))


HEAD = '{"log": {"entries": [' + json.dumps(entry())  # 152 bytes: one good entry


@pytest.mark.parametrize(
    ("tail", "where", "message"),
    [
        (', {"request": {"url": "https://b/"} "x": 1}, ' + json.dumps(entry()) + "]}}", "entry 2 (byte 154)",
         "invalid JSON (Expecting ',' delimiter at byte 188)"),
        (" " + json.dumps(entry()) + "]}}", "entry 2 (byte 153)", "invalid JSON (expected ',' or ']' at byte 153)"),
        (", " + "[" * 100_000, "entry 2 (byte 154)", "invalid JSON (nested too deeply at byte 154)"),
        (",\n", "entry 2 (byte 154)", "truncated JSON"),
        ("]", "after the entries (byte 153)", "truncated JSON"),
        ("]}} trailing", "after the entries (byte 156)", "invalid JSON (expected the end of the file at byte 156)"),
    ],
)  # fmt: skip
def test_a_break_after_good_entries(tmp_path, tail, where, message):
    """Corruption in the middle of the file, or after the entries, is named like a cut: records before it kept."""
    records, error = read_all(write(tmp_path, HEAD + tail))
    assert len(records) == 1
    assert error is not None and (error.where, error.message) == (where, message)


# Tolerance, entry by entry


def test_byte_order_mark_crlf_and_trailing_commas(tmp_path):
    """Windows tools write a BOM and CRLF; some exporters leave a trailing comma. All readable."""
    document = json.dumps(har_of(entry(), entry("https://b.example/")), indent=2).replace("\n", "\r\n")
    document = document.replace("}\r\n    ]", "},\r\n    ]")
    assert "},\r\n    ]" in document
    records, error = read_all(write(tmp_path, b"\xef\xbb\xbf" + document.encode()))
    assert error is None and [r[3] for r in records] == ["https://a.example/", "https://b.example/"]


def test_start_times_in_every_exporter_precision(tmp_path):
    """Z or an offset, milliseconds or a .NET exporter's seven digits; a time without a zone is UTC. An entry
    without a usable start cannot be placed in time, so it is skipped and counted."""
    starts = [
        "2026-11-24T10:00:00.1234567Z",
        "2026-11-24T11:00:00.123+01:00",
        "2026-11-24T10:00:00.123",
        "2026-11-24T10:00:00.123+0000",
        "yesterday",
        None,
        "0001-01-01T00:00:00+01:00",
    ]
    path = write(tmp_path, har_of(*(entry(start=start) for start in starts)))
    reader = HarReader(str(path))
    times = [round(r.time, 3) for r, _ in reader]
    assert times == [at("2026-11-24T10:00:00.123+00:00")] * 4
    assert reader.skipped == 3


def test_equal_start_times_keep_file_order(tmp_path):
    urls = [f"https://a.example/{i}" for i in range(5)]
    path = write(tmp_path, har_of(entry("https://a.example/late", "2026-11-24T10:00:01Z"), *map(entry, urls)))
    assert [r.url for r, _ in HarReader(str(path))] == [*urls, "https://a.example/late"]


def test_entries_no_proxy_sees_are_left_out_uncounted(tmp_path):
    """data:, blob: and extension URLs never cross a proxy; a WebSocket handshake is an http(s) request."""
    urls = ["data:text/plain,hi", "blob:https://a.example/5d1c", "chrome-extension://abc/x.js", "ws://a.example/s"]
    reader = HarReader(str(write(tmp_path, har_of(*map(entry, urls), entry("/relative")))))
    assert [r.url for r, _ in reader] == ["http://a.example/s"]
    assert reader.skipped == 1  # the relative URL is malformed


def test_odd_but_usable_fields(tmp_path):
    odd = entry(
        method="post",
        request={
            "headers": [
                {"name": "Content-Type", "value": "text/plain"},
                {"name": "X-Count", "value": 3},
                {"name": "X-Empty", "value": None},
                {"value": "no name"},
                "not a header",
                {"name": ":method", "value": "POST"},
            ],
            "postData": {"mimeType": "text/plain", "text": "héllo"},
        },
        response={"status": "302", "headers": [{"name": ":status", "value": "302"}], "redirectURL": "/next"},
    )
    untyped = entry(request={"headers": [{"name": "Host", "value": "a.example"}], "postData": {"mimeType": "text/csv"}})
    (request, response), (provisional, _) = HarReader(str(write(tmp_path, har_of(odd, untyped))))
    assert request.method == "POST"
    assert request.headers == (("content-type", "text/plain"), ("x-count", "3"), ("x-empty", ""))
    assert request.body.read() == "héllo".encode()
    assert (response.status, response.headers) == (302, (("location", "/next"),))
    assert provisional.headers == (("host", "a.example"), ("content-type", "text/csv"))  # the body's type, as sent


@pytest.mark.parametrize(("time", "after"), [(250, 0.25), (-1, 0), (None, 0), (float("nan"), 0), (1e300, 0), (True, 0)])
def test_response_time_is_start_plus_time_when_that_makes_sense(tmp_path, time, after):
    ((request, response),) = HarReader(str(write(tmp_path, har_of(entry(time=time)))))
    assert response.time == request.time + after


@pytest.mark.parametrize("status", [0, None, "", -1])
def test_no_status_is_no_response(tmp_path, status):
    ((_, response),) = HarReader(str(write(tmp_path, har_of(entry(response={"status": status})))))
    assert response is None


@pytest.mark.parametrize(
    ("request_fields", "length", "data"),
    [
        ({}, 0, b""),
        ({"bodySize": -1}, 0, b""),
        ({"bodySize": 0, "postData": {"mimeType": "text/plain", "text": ""}}, 0, b""),
        ({"bodySize": 1024}, None, None),  # sized, not kept: unknown
        ({"bodySize": 1024, "postData": {"mimeType": "application/octet-stream", "text": ""}}, None, None),
        ({"postData": {"text": "aGk=", "encoding": "base64"}}, 2, b"hi"),
        ({"postData": {"text": "not base64 ü", "encoding": "base64"}}, None, None),
        ({"postData": {"mimeType": "application/x-www-form-urlencoded", "params": [{"name": "q", "value": "a b&c"}]}},
         9, b"q=a+b%26c"),
        ({"postData": {"mimeType": "multipart/form-data; boundary=x", "params": [{"name": "f", "fileName": "a.txt"}]}},
         2, b"f="),
    ],
)  # fmt: skip
def test_request_bodies(tmp_path, request_fields, length, data):
    ((request, _),) = HarReader(str(write(tmp_path, har_of(entry(method="POST", request=request_fields)))))
    assert (request.body.length, request.body.read()) == (length, data)


def test_lone_surrogates_reach_the_engine_as_the_wire_would_carry_them(tmp_path):
    """JSON may escape half an emoji (a cut string); no wire carries that. The reader hands the engine what
    mitmproxy would hold for the bytes a client would send, and the auditor judges it without a crash."""
    request = {
        "headers": [{"name": "authorization", "value": "Bearer \ud83d"}, {"name": "x-\udc00", "value": "1"}],
        "postData": {
            "mimeType": "application/x-www-form-urlencoded",
            "params": [{"name": "password", "value": "\ud800"}],
        },
    }
    redirect = {"status": 307, "headers": [{"name": "location", "value": "https://b.example/"}]}
    first = entry("https://a.example/", method="POST", request=request, response=redirect)
    followup = entry("https://b.example/", "2026-11-24T10:00:01Z", method="POST", request=request)
    odd_url = entry("https://a.example/\ud83d", response={"status": 302, "redirectURL": "/\udc80"})
    result = audit(write(tmp_path, har_of(first, followup, odd_url)))
    assert len(result.records) == 3
    for request, response in result.records:
        for text in (request.url, *(part for pair in request.headers + response.headers for part in pair)):
            text.encode("utf-8", "surrogateescape")  # what the engine does with every string
    assert {"credential-post-307", "credentials-forwarded", "authorization-cross-origin"} <= rules(result.findings)


# The stream behind it

DATA_FILES = sorted(HAR.glob("*.har"))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096])
@pytest.mark.parametrize("path", DATA_FILES, ids=lambda path: path.name)
def test_window_size_changes_nothing(path, chunk):
    """Values cut by the read window (numbers, literals, multi-byte characters, the BOM) are read whole,
    and a break is placed at the same byte."""
    expected = read_all(path)
    with mock.patch.object(har, "_CHUNK", chunk):
        records, error = read_all(path)
    assert records == expected[0]
    assert str(error) == str(expected[1])


FULL = (HAR / "chrome-devtools.har").read_bytes()
FULL_RECORDS = read_all(HAR / "chrome-devtools.har")[0]
OFFSETS = entry_offsets(FULL)
LIST = FULL.index(b'"entries": [') + len(b'"entries": [')  # where the entry list opens


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(FULL)), chunk=st.sampled_from([1 << 20, 5, 97]))
def test_cut_at_any_byte_gives_a_prefix_then_says_where(tmp_path_factory, cut, chunk):
    path = tmp_path_factory.mktemp("cut") / "chrome-devtools.har"
    path.write_bytes(FULL[:cut])
    with mock.patch.object(har, "_CHUNK", chunk):
        records, error = read_all(path)
    read = len(records)
    assert records == FULL_RECORDS[:read]
    if error is None:
        assert cut == len(FULL) and read == len(FULL_RECORDS)
        return
    assert error.path == str(path) and str(error).startswith(f"{path}: ")
    if cut < LIST:
        assert read == 0 and error.message in ("truncated before log.entries", "empty file")
    elif error.where.startswith("entry "):
        following = OFFSETS[read] if read < len(OFFSETS) else cut
        assert (error.where, error.message) == (f"entry {read + 1} (byte {min(following, cut)})", "truncated JSON")
    else:
        assert read == len(FULL_RECORDS) and error.where.startswith("after the entries (byte ")


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(FULL)), st.binary(max_size=4), st.integers(0, 8)),
        min_size=1,
        max_size=4,
    )
)
def test_corrupt_bytes_never_raise_anything_but_recording_error(tmp_path_factory, edits):
    """Bytes overwritten, inserted or deleted anywhere: the reader yields records or a RecordingError, and
    whatever it yields, the auditor judges without an exception."""
    data = FULL
    for position, replacement, removed in edits:
        data = data[:position] + replacement + data[position + removed :]
    path = tmp_path_factory.mktemp("corrupt") / "corrupt.har"
    path.write_bytes(data)
    result = audit(path)
    assert result.error is None or isinstance(result.error, RecordingError)
    for found in result.findings:
        json.dumps(found.record())


# Same records as live


def test_a_middle_hop_keeps_its_credentials_as_live(tmp_path):
    """POST with a password 307 → B, re-posted, 307 → C, re-posted: live, both hops are judged on the
    password they carry."""
    form = {"mimeType": "application/x-www-form-urlencoded", "text": "user=a&password=pw"}
    hops = [("https://a.example/login", "https://b.example/x"), ("https://b.example/x", "https://c.example/y")]
    entries = [
        entry(url, f"2026-11-24T10:00:0{i}Z", method="POST", request={"postData": form},
              response={"status": 307, "headers": [{"name": "location", "value": to}]})
        for i, (url, to) in enumerate(hops)
    ] + [entry("https://c.example/y", "2026-11-24T10:00:05Z", method="POST", request={"postData": form})]  # fmt: skip
    result = audit(write(tmp_path, har_of(*entries)))
    redirects = [f.flows["redirect"] for f in result.findings if f.rule == "credentials-forwarded"]
    assert redirects == ["case.har#0", "case.har#1"]
