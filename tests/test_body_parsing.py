"""Credentials in the body variants real clients send: content-encoded forms (gzip, deflate, br, zstd), multipart
with an upper-case `BOUNDARY=` or an unquoted `name=password`. A coding bomb costs the parse budget, not what it
expands to, and whatever cannot be read is counted as `credentials_unparsed`, which the README's fail-closed rule
blocks."""

from __future__ import annotations

import functools
import gzip
import random
import re
import time
import tracemalloc
import zlib
from pathlib import Path

import brotli
import pytest
import zstandard

from redirect_audit.auditor import Auditor
from redirect_audit.engine.model import Body
from redirect_audit.engine.secrets import SecretPolicy, credentials_of
from redirect_audit.rules.pack import RuleSet

from .exchanges import req, resp
from .harness.clients import send
from .harness.process import ProxyProcess
from .test_secret_rules import audit

POLICY = SecretPolicy()
# Long enough that every encoder compresses the field names too: nothing readable is left to parse by chance.
FORM = b"username=alice&password=pw-ENCODED&note=" + bytes(random.Random(1).choices(b"abcd", k=4000))
FORM_TYPE = ("Content-Type", "application/x-www-form-urlencoded")
ENCODINGS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, as the standard says
    "DEFLATE": lambda data: zlib.compress(data)[2:-4],  # raw, as some servers send it
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "gzip, br": lambda data: brotli.compress(gzip.compress(data)),  # applied in order, undone in reverse
    "identity": lambda data: data,
}


def found(body: bytes, *headers: tuple[str, str], policy: SecretPolicy = POLICY):
    return credentials_of(req("POST", "https://a.example/login", body=body, headers=list(headers)), policy)


@pytest.mark.parametrize("coding", ENCODINGS)
def test_an_encoded_form_body_is_read(coding):
    encoded = ENCODINGS[coding](FORM)
    assert (b"password" in encoded) == (coding == "identity")
    credentials = found(encoded, FORM_TYPE, ("Content-Encoding", coding))
    assert list(credentials.body) == ["form:password"] and not credentials.unparsed
    assert credentials.body == found(FORM, FORM_TYPE).body  # the same value, the same fingerprint


def test_an_encoded_login_re_posted_to_another_origin_is_forwarded_credentials():
    body, headers = gzip.compress(FORM), [FORM_TYPE, ("Content-Encoding", "gzip")]
    login = req("POST", "https://idp.example.com/login", body=body, headers=headers)
    rules = audit((login, resp(307, "https://app.example.net/cb")),
                  (req("POST", "https://app.example.net/cb", body=body, headers=headers), None))  # fmt: skip
    assert {"credential-post-307", "credentials-forwarded"} <= set(rules)


MULTIPART_SPELLINGS = {
    "upper-case BOUNDARY=": ("multipart/form-data; BOUNDARY=XyZ", b'Content-Disposition: form-data; name="password"'),
    "quoted boundary": ('multipart/form-data; boundary="XyZ"', b'Content-Disposition: form-data; name="password"'),
    "unquoted name": ("multipart/form-data; boundary=XyZ", b"Content-Disposition: form-data; name=password"),
    "upper-case NAME=": ("Multipart/Form-Data; Boundary=XyZ", b'content-disposition: form-data; NAME="password"'),
    "filename first": ("multipart/form-data; boundary=XyZ",
                       b'Content-Disposition: form-data; filename="a.txt"; name="password"'),
}  # fmt: skip


@pytest.mark.parametrize(("content_type", "head"), MULTIPART_SPELLINGS.values(), ids=MULTIPART_SPELLINGS)
def test_a_multipart_password_is_read_however_it_is_spelled(content_type, head):
    other_part = b"--XyZ\r\nContent-Disposition: form-data; name=u\r\n\r\na\r\n"
    body = b"--XyZ\r\n" + head + b"\r\n\r\npw-MULTI\r\n" + other_part + b"--XyZ--\r\n"
    credentials = found(body, ("Content-Type", content_type))
    assert list(credentials.body) == ["multipart:password"] and not credentials.unparsed
    assert credentials.body["multipart:password"] == POLICY.fingerprint(b"pw-MULTI")


MIB = bytes(1 << 20)


def _streamed(compress, flush) -> bytes:
    """`password=` and 1 GiB of zeros through a streaming encoder, a mebibyte at a time."""
    return b"".join([compress(b"password=")] + [compress(MIB) for _ in range(1024)] + [flush()])


def _brotli_bomb() -> bytes:
    encoder = brotli.Compressor(quality=1)
    return _streamed(encoder.process, encoder.finish)


def _zstd_bomb() -> bytes:
    encoder = zstandard.ZstdCompressor().compressobj()
    return _streamed(encoder.compress, encoder.flush)


def _gzip_bomb() -> bytes:
    """As many gzip members of a mebibyte of zeros as fit in the parse budget: about 1 GiB once decoded."""
    member = gzip.compress(MIB)
    return gzip.compress(b"password=" + MIB) + member * (POLICY.max_parse_bytes // len(member) - 1)


BOMBS = {  # each about 1 GiB once decoded, and within the parse budget on the wire
    "gzip": functools.cache(_gzip_bomb),
    "br": functools.cache(_brotli_bomb),
    "zstd": functools.cache(_zstd_bomb),
}


@pytest.mark.parametrize("coding", BOMBS)
def test_a_coding_bomb_costs_the_budget_not_what_it_expands_to(coding):
    body = BOMBS[coding]()
    assert len(body) < POLICY.max_parse_bytes
    tracemalloc.start()
    start = time.perf_counter()
    credentials = found(body, FORM_TYPE, ("Content-Encoding", coding))
    elapsed, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert credentials.unparsed and not credentials.body
    assert peak < 4 * POLICY.max_parse_bytes  # a few times the budget, never the gigabyte
    assert elapsed < 5  # the one kind of timed bound: generous; decoding it all takes tens of seconds


def test_the_budget_bounds_the_decoded_size():
    small = SecretPolicy(max_parse_bytes=1000)
    body = b"password=x&pad=" + b"a" * 2000
    assert found(gzip.compress(body), FORM_TYPE, ("Content-Encoding", "gzip"), policy=small).unparsed
    assert not found(gzip.compress(body[:900]), FORM_TYPE, ("Content-Encoding", "gzip"), policy=small).unparsed


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("compress", FORM),  # a coding this does not decode
        ("gzip", gzip.compress(FORM)[:-12]),  # truncated
        ("gzip", FORM),  # not gzip at all
        ("br", brotli.compress(FORM)[:-3]),
        ("br", b"\xff" * 40),
        ("zstd", b"\x28\xb5\x2f\xfd" + b"\xff" * 40),
        ("gzip, gzip, gzip", gzip.compress(gzip.compress(gzip.compress(FORM)))),  # more codings than clients send
    ],
)
def test_what_cannot_be_decoded_is_unparsed(coding, body):
    credentials = found(body, FORM_TYPE, ("Content-Encoding", coding))
    assert credentials.unparsed and not credentials.body


@pytest.mark.parametrize(
    "body",
    [
        b"--B\r\nContent-Disposition: form-data; name=password\nx\r\n--B--\r\n",  # a bare LF in the head
        b"--B\r\n" + b"Content-Disposition: form-data; " * 2000 + b"\r\n\r\nx\r\n--B--\r\n",  # a head past 4 KB
        b"--B\r\nContent-Disposition: form-data; name=password\r\n\r\nx",  # no closing boundary
        b"preamble--B\r\n",
    ],
)
def test_a_multipart_body_its_parser_refuses_is_unparsed(body):
    assert found(body, ("Content-Type", "multipart/form-data; boundary=B")).unparsed


def readme_fail_closed_rule(tmp_path: Path) -> Path:
    """The fail-closed recipe exactly as the README gives it."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("\n## Secrets and redaction") :].split("\n## ", 2)[1]
    path = tmp_path / "fail-closed.yaml"
    path.write_text(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    return path


def test_the_readme_fail_closed_rule_blocks_an_unreadable_body_sent_on(tmp_path):
    auditor = Auditor(RuleSet.load([readme_fail_closed_rule(tmp_path)]))
    unreadable = req("POST", "https://idp.example.com/login", body=BOMBS["gzip"](),
                     headers=[FORM_TYPE, ("Content-Encoding", "gzip")])  # fmt: skip
    streamed = req("POST", "https://idp.example.com/upload", body=Body(None), headers=[FORM_TYPE])
    readable = req("POST", "https://idp.example.com/login", body=FORM, headers=[FORM_TYPE])
    verdicts = {}
    for name, request, location in [("unreadable", unreadable, "https://app.example.net/cb"),
                                    ("streamed", streamed, "https://app.example.net/cb"),
                                    ("same origin", unreadable, "https://idp.example.com/next"),
                                    ("readable", readable, "https://app.example.net/cb")]:  # fmt: skip
        findings = auditor.response(request, resp(307, location), live=True)
        verdicts[name] = {f.rule: f.action for f in findings if f.rule not in ("credential-post-307",)}
    assert verdicts["unreadable"] == verdicts["streamed"] == {"unreadable-body-redirected": "blocked"}
    assert verdicts["same origin"] == verdicts["readable"] == {}


@pytest.fixture(scope="module")
def blocking_proxy(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("block-high")
    proxy = ProxyProcess.cli(workdir, "--block-on", "high", "--rules", str(readme_fail_closed_rule(workdir)))
    yield proxy
    proxy.stop()


REAL_BODIES = {  # what a real client posts: Content-Type, Content-Encoding, body
    "gzip form": ("application/x-www-form-urlencoded", "gzip", gzip.compress(FORM)),
    "br form": ("application/x-www-form-urlencoded", "br", brotli.compress(FORM)),
    "zstd form": ("application/x-www-form-urlencoded", "zstd", zstandard.ZstdCompressor().compress(FORM)),
    "multipart BOUNDARY=": ("multipart/form-data; BOUNDARY=Q", None,
                            b'--Q\r\nContent-Disposition: form-data; name="password"\r\n\r\npw-REAL\r\n--Q--\r\n'),
    "multipart unquoted name": ("multipart/form-data; boundary=Q", None,
                                b"--Q\r\nContent-Disposition: form-data; name=password\r\n\r\npw-REAL\r\n--Q--\r\n"),
}  # fmt: skip


@pytest.mark.parametrize("client", ["requests", "httpx"])
@pytest.mark.parametrize("variant", REAL_BODIES)
def test_a_real_client_never_re_posts_an_encoded_or_odd_login_to_another_origin(
    upstream, blocking_proxy, client, variant
):
    """A real client posts the login through a 307 to the other origin: credential-post-307 (high) replaces the
    307 with a 403, and the callback never receives the body."""
    content_type, coding, body = REAL_BODIES[variant]
    tag = f"{client}-{variant.replace(' ', '-').replace('=', '')}"
    callback = upstream.url(f"/callback?tag={tag}", 1)
    headers = {"Content-Type": content_type, **({"Content-Encoding": coding} if coding else {})}
    result = send(client, "POST", upstream.go(307, callback) + f"?tag={tag}", proxy=blocking_proxy.url,
                  headers=headers, body=body)  # fmt: skip
    assert result.ok and result.status == 403, result
    (finding,) = [f for f in blocking_proxy.findings(f"tag={tag}") if f["rule"] == "credential-post-307"]
    assert finding["action"] == "blocked" and finding["evidence"]["original_body_credentials"][0].endswith("password")
    assert upstream.arrivals_at(f"/callback?tag={tag}") == []


def test_the_fail_closed_rule_blocks_a_bomb_on_a_real_proxy(upstream, blocking_proxy):
    """A gzip bomb cannot be read for credentials: the README's rule blocks its 307 to another origin."""
    callback = upstream.url("/callback?tag=bomb", 1)
    result = send("requests", "POST", upstream.go(307, callback) + "?tag=bomb", proxy=blocking_proxy.url,
                  headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"},
                  body=BOMBS["gzip"]())  # fmt: skip
    assert result.ok and result.status == 403, result
    (finding,) = [f for f in blocking_proxy.findings("tag=bomb") if f["rule"] == "unreadable-body-redirected"]
    assert finding["action"] == "blocked" and finding["evidence"]["credentials_unparsed"] is True
    assert upstream.arrivals_at("/callback?tag=bomb") == []
