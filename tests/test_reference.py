"""docs/reference.md is generated from the code by scripts/reference.py: the committed file must be what the script
writes, and it must name everything the code declares."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

from redirect_audit.adapters.inputs import FORMATS as INPUTS
from redirect_audit.auditor import Finding
from redirect_audit.cli.main import build_parser
from redirect_audit.engine.facts import CATALOG
from redirect_audit.options import OPTIONS
from redirect_audit.reports import FORMATS
from redirect_audit.rules.pack import RuleSet

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "reference.py"
REFERENCE = ROOT / "docs" / "reference.md"


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--output", str(path)], capture_output=True, text=True, timeout=120
    )


def commands(parser: argparse.ArgumentParser, path: str = "") -> list[str]:
    """The CLI's subcommands, `rules list` and its siblings for `rules`."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{path}{name} ") or [path + name]
    return found


def test_the_committed_reference_is_what_the_script_writes():
    done = check(REFERENCE)
    assert done.returncode == 0, done.stderr


def test_a_reference_one_word_off_is_refused_with_the_command_to_run(tmp_path):
    text = REFERENCE.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("| `body_state` |"))
    stale = tmp_path / "reference.md"
    stale.write_text(text.replace(line, line.replace("preserved", "kept", 1)), encoding="utf-8")
    done = check(stale)
    assert done.returncode == 1
    assert "+| `body_state` |" in done.stderr  # the line that differs
    assert done.stderr.endswith("is out of date: run `.venv/bin/python scripts/reference.py`\n")


def test_the_reference_names_everything_the_code_declares():
    text = REFERENCE.read_text(encoding="utf-8")
    rules = RuleSet.load().rules
    for rule in rules.values():
        assert f"### `{rule.id}`" in text and rule.title in text, rule.id
    for fact in CATALOG.values():
        assert f"| `{fact.name}` | " in text and fact.doc in text, fact.name
    for option in OPTIONS.values():
        assert f"### `redirect_audit_{option.name}`" in text and f"`{option.flag} {option.metavar}`" in text
    for output in FORMATS.values():
        assert f"### `redirect_audit_{output.name}`" in text and f"`redirectaudit.{output.command} PATH`" in text
    for entry in INPUTS.values():
        assert f"| {entry.name} | " in text
    for field in dataclasses.fields(Finding):
        assert f"| `{field.name}` | " in text and field.metadata["doc"] in text, field.name
    for command in commands(build_parser()):
        assert f"#### `redirect-audit {command}`" in text
    assert "`redirectaudit.summary`" in text
