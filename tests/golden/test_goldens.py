"""Golden files: each output of `redirect-audit analyze` on one fixed recording, compared whole.

`tests/data/golden/recording.har` is one client's session of nine redirect chains: eight that between them fire
eleven default rules once each (a login POST answered 307 to another site and re-posted there, Authorization and
X-API-Key carried to another origin, a 303 re-posted, a 307 turned into a bodiless GET, a redirect nobody follows,
an access token in a Location to another site, an open redirect from `next=` with `<script>` in the recorded URL, a
HEAD re-issued as GET), and a clean one of two redirects (http to https, then a 302). It is analysed by the real
command line in-process (`main(["analyze", ...])`: its options, its audit loop and Session, the output registry),
and what it prints, the JSON Lines report and the HTML report are compared, each whole and byte for byte, with the
files beside the recording. Everything that would vary is fixed: the times and flow ids are the recording's own, the
fingerprint key is KEY (the command line makes a fresh one each run, so the test hands `options.settings` its
`key`), and the HTML's "generated" time comes from SOURCE_DATE_EPOCH. The HTML names the package version too: a new
version changes it.

When an output changes on purpose, regenerate the goldens and review the difference before committing it:

    .venv/bin/python -m pytest tests/golden --update-goldens
    git diff tests/data/golden/

(`--update-goldens` is declared in tests/golden/conftest.py, so name this folder or file on the command line.)
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import shutil
from pathlib import Path

import pytest

from redirect_audit import options
from redirect_audit.cli.main import main

GOLDEN = Path(__file__).parent.parent / "data" / "golden"
RECORDING = GOLDEN / "recording.har"
KEY = b"redirect-audit golden files key!"  # 32 bytes, as SecretPolicy's own keys
SOURCE_DATE_EPOCH = "1795510800"  # 2026-11-24 09:00:00 UTC, the recording's start
FIRED = {  # the rules the recording fires, one finding each
    "credential-post-307",
    "credentials-forwarded",
    "authorization-cross-origin",
    "secret-header-cross-origin",
    "see-other-not-get",
    "method-changed",
    "body-dropped",
    "not-followed",
    "token-in-location",
    "open-redirect",
    "head-became-get",
}
OUTPUTS = {  # output -> its golden file (named .golden: expected data, which no tool takes for source or a page)
    "console": GOLDEN / "console.txt.golden",  # what `analyze` prints: a line per finding, the summary, what it wrote
    "report": GOLDEN / "findings.jsonl.golden",  # --report
    "html": GOLDEN / "report.html.golden",  # --html
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The outputs of one run, read as text; run where the outputs' names (which the console prints) are short."""
    where = tmp_path_factory.mktemp("golden")
    shutil.copy(RECORDING, where / RECORDING.name)  # named as given: the report lists its sources
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(where)
        patch.setenv("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
        patch.setattr(options, "settings", functools.partial(options.settings, key=KEY))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main(["analyze", RECORDING.name, "--report", "findings.jsonl", "--html", "report.html"])
    assert (status, stderr.getvalue()) == (0, "")
    return {
        "console": stdout.getvalue(),
        "report": (where / "findings.jsonl").read_text(encoding="utf-8"),
        "html": (where / "report.html").read_text(encoding="utf-8"),
    }


@pytest.mark.parametrize("output", OUTPUTS)
def test_output_is_its_golden_file(outputs: dict[str, str], output: str, update_goldens: bool) -> None:
    golden = OUTPUTS[output]
    actual = outputs[output]
    if update_goldens:
        golden.write_bytes(actual.encode("utf-8"))
    expected = golden.read_bytes().decode("utf-8")
    assert actual == expected, f"{output} differs from {golden.name}: if on purpose, see this module's docstring"


def test_the_golden_recording_fires_what_it_says(outputs: dict[str, str]) -> None:
    """The recording keeps exercising what the docstring promises, whatever the goldens say."""
    fired = re.findall(r"^\[[A-Z]+\] ([a-z0-9-]+):", outputs["console"], re.M)
    assert sorted(fired) == sorted(FIRED)
    assert '<div class="n" id="chain-count">9</div>' in outputs["html"]  # eight chains with findings, one clean
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in outputs["html"] and "<script" not in outputs["html"]
    written = "".join(outputs.values())
    for secret in ("hunter2", "s3cr3t-token", "k-12345", "eyJhbGciOiJIUzI1NiJ9.golden"):
        assert secret not in written
