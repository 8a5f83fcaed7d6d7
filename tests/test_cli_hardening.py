"""The command line never loses work or crashes: outputs and the port are checked before any work, Ctrl-C stops
cleanly, a closed output pipe ends quietly; bootstrap says why npm failed, packaging declares what it ships and
ships no test harness, and a plain install (no `demo` extra) runs the demo with the clients it has."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .generated import SUMMARY_TOTAL, TITLE, write_har
from .harness.process import free_port

ROOT = Path(__file__).parent.parent
CLI = [sys.executable, "-m", "redirect_audit.cli.main"]


def run(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, **options)


def bad_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Output paths that cannot be written (tests run as root: permission bits would not stop a write)."""
    return {
        "missing-directory": (tmp_path / "missing" / "out", "No such file or directory"),
        "a-directory": (tmp_path, "Is a directory"),
    }


@pytest.mark.parametrize("kind", ["missing-directory", "a-directory"])
@pytest.mark.parametrize(
    ("command", "option"), [("analyze", "--report"), ("analyze", "--html"), ("proxy", "--report"),
                            ("proxy", "--html"), ("proxy", "--save")],
)  # fmt: skip
def test_an_unwritable_output_is_refused_before_any_work(tmp_path, command, option, kind):
    path, why = bad_paths(tmp_path)[kind]
    fresh = tmp_path / "fresh.jsonl"  # a writable output checked before the bad one is not left behind
    args = [str(write_har(tmp_path / "in.har", [True]))] if command == "analyze" else ["--listen-port", "0"]
    done = run(command, *args, *(["--report", str(fresh)] if option != "--report" else []), option, str(path))
    assert done.returncode == 2
    assert done.stderr == f"redirect-audit {command}: cannot write {option} {path}: {why}\n"
    assert done.stdout == ""  # no analysis, no proxy
    assert not fresh.exists()


def test_a_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run("proxy", "--listen-port", str(port))
    assert done.returncode == 2
    assert done.stderr == f"redirect-audit proxy: cannot listen on 127.0.0.1:{port}: the port is in use (choose " \
                          "another --listen-port)\n"  # fmt: skip
    assert "proxy on" not in done.stdout and "--mode" not in done.stdout


def test_proxy_says_where_it_listens_once_it_does():
    process = subprocess.Popen([*CLI, "proxy", "--listen-port", "0"], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    port = int(re.fullmatch(r"redirect-audit: proxy on http://127\.0\.0\.1:(\d+) \(Ctrl-C to stop\)\n", line)[1])
    socket.create_connection(("127.0.0.1", port)).close()  # listening already
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 0


def test_ctrl_c_during_analyze_reports_what_was_read(tmp_path):
    har = write_har(tmp_path / "many.har", [True] * 3000)  # far more finding lines than a pipe holds
    report, html = tmp_path / "read.jsonl", tmp_path / "read.html"
    process = subprocess.Popen([*CLI, "analyze", str(har), "--report", str(report), "--html", str(html)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    first = process.stdout.readline()  # analysing; it cannot finish before this pipe is read to the end
    assert first.startswith("[HIGH] credential-post-307")
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=120)
    assert process.returncode == 130
    assert errors == f"redirect-audit analyze: interrupted in {har}; the summary and reports cover what was read\n"
    redirects = int(re.search(r"redirect-audit summary: (\d+) redirects", rest)[1])
    assert 0 < redirects < 3000
    (total,) = SUMMARY_TOTAL.findall(rest)
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(records) == int(total)
    assert TITLE.search(html.read_text()).groups() == (total, str(redirects))


def test_ctrl_c_during_demo_stops_cleanly():
    process = subprocess.Popen([*CLI, "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    for line in process.stdout:  # past its start-up: the demo's proxy runs, clients are being driven
        if line.startswith("proxy on "):
            break
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 130
    assert errors == "redirect-audit demo: interrupted\n"


@pytest.mark.parametrize("args", [["rules", "facts"], ["analyze", "{har}", "--report", "/dev/stdout", "-q"]])
def test_a_closed_output_pipe_ends_quietly(tmp_path, args):
    har = write_har(tmp_path / "in.har", [True] * 50)
    reader, writer = os.pipe()
    os.close(reader)  # as after `| head` has exited
    try:
        done = subprocess.run([*CLI, *(arg.format(har=har) for arg in args)], stdout=writer, stderr=subprocess.PIPE,
                              text=True, timeout=120)  # fmt: skip
    finally:
        os.close(writer)
    assert (done.returncode, done.stderr) == (141, "")


def checkout_copy(destination: Path) -> Path:
    """This checkout's files, without what is built or installed in it."""
    ignored = shutil.ignore_patterns(".git", ".venv*", "node_modules", "build", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, destination, ignore=ignored)
    return destination


def test_bootstrap_shows_why_npm_failed(tmp_path):
    checkout = checkout_copy(tmp_path / "checkout")
    npm_unreachable = {
        "npm_config_registry": f"http://127.0.0.1:{free_port()}/",  # nothing listens there
        "npm_config_fetch_retries": "0",
        "npm_config_cache": str(tmp_path / "npm-cache"),  # empty: nothing to install from
    }
    done = subprocess.run(
        [str(checkout / "scripts" / "bootstrap"), "--test"], capture_output=True, text=True, timeout=300,
        env={**os.environ, **npm_unreachable, "VENV": str(tmp_path / "venv"), "PYTHON": sys.executable},
    )  # fmt: skip
    assert done.returncode == 1
    assert "npm error" in done.stderr  # npm's own account of it
    assert done.stderr.endswith("bootstrap: npm could not install undici into tests/harness/node (npm's errors above); "
                                "Node's fetch tests need it\n")  # fmt: skip
    assert not (tmp_path / "venv").exists()  # it stopped before the long pip install


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    """The package's wheel, built by pip from a copy of this checkout, and pip's output."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = checkout_copy(tmp_path / "source")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (built,) = (tmp_path / "dist").glob("redirect_audit-*.whl")
    return built, done.stdout + done.stderr


def test_packaging_declares_every_directory_it_ships(wheel):
    built, output = wheel
    assert "would be ignored" not in output
    shipped = set(zipfile.ZipFile(built).namelist())
    assert {"redirect_audit/reports/templates/report.html.j2", "redirect_audit/reports/templates/style.css",
            "redirect_audit/packs/default.yaml"} <= shipped  # fmt: skip


def test_the_wheel_ships_the_demo_and_no_test_harness(wheel):
    shipped = set(zipfile.ZipFile(wheel[0]).namelist())
    demo = {name.removeprefix("redirect_audit/demo/") for name in shipped if name.startswith("redirect_audit/demo/")}
    assert demo == {"__init__.py", "run.py", "upstream.py", "clients.py", "proxy.py", "tls.py"}
    assert [name for name in shipped if not name.startswith(("redirect_audit/", "redirect_audit-"))] == []
    harness = re.compile(r"matrix|/node/|harness|spelling|browser|\.mjs$|package(-lock)?\.json$")
    assert not [name for name in shipped if harness.search(name)]


def base_dependencies(dist_info: Path) -> list[metadata.Distribution]:
    """The installed distributions that the package at `dist_info` needs without any extra, and theirs."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(requirement, ()) for requirement in metadata.Distribution.at(dist_info).requires or []]
    while todo:
        text, extras = todo.pop()
        requirement = Requirement(text)
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in ("", *extras)):
            continue
        name = canonicalize_name(requirement.name)
        if name not in found:
            found[name] = metadata.distribution(name)
            todo += [(nested, tuple(requirement.extras)) for nested in found[name].requires or []]
    return list(found.values())


def test_a_plain_install_runs_the_demo_with_the_clients_it_has(wheel, tmp_path):
    """`pip install redirect-audit` without the `demo` extra: a fresh venv, the wheel installed by pip, its base
    dependencies (linked from this environment, not downloaded), and neither requests nor httpx."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel[0])], check=True, capture_output=True, timeout=120)
    where = [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    site = Path(subprocess.run(where, capture_output=True, text=True, check=True).stdout.strip())
    needed = base_dependencies(next(site.glob("redirect_audit-*.dist-info")))
    assert {"mitmproxy", "pyyaml", "jinja2"} <= {canonicalize_name(d.metadata["Name"]) for d in needed}
    for dist in needed:
        for top in {file.parts[0] for file in dist.files or [] if file.parts[0] not in ("..", "__pycache__")}:
            if not (site / top).exists():
                (site / top).symlink_to(dist.locate_file(top))
    for absent in ("requests", "httpx"):
        probe = subprocess.run([python, "-c", f"import {absent}"], capture_output=True, timeout=60)
        assert probe.returncode == 1, f"{absent} is importable in the plain install"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([venv / "bin" / "redirect-audit", "demo"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for absent in ("requests", "httpx"):
        assert f"  skipped {absent}: {absent} is not installed: pip install 'redirect-audit[demo]'\n" in out
    assert re.search(r"x 4 clients \(urllib, curl, naive-get, naive-replay\)", out)
    assert re.search(r"naive-get\s+method-changed, body-dropped", out)
    assert not re.search(r"^\s+(requests|httpx)\s", out, re.MULTILINE)  # no row for a client it skipped
    assert "redirect-audit summary:" in out
