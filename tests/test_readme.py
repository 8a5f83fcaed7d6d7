"""The README is part of the product: its commands, rule ids, facts and report fields must be true."""

import dataclasses
import re
from pathlib import Path

import pytest

from redirect_audit.auditor import Finding
from redirect_audit.cli.main import build_parser
from redirect_audit.engine.facts import CATALOG
from redirect_audit.rules.pack import RuleSet

README = (Path(__file__).parent.parent / "README.md").read_text()


def section(title: str) -> str:
    """The text of the `## title...` section, up to the next `## ` heading."""
    start = README.index(f"\n## {title}")
    return README[start + 1 :].split("\n## ", 1)[0]


def test_quick_start_is_two_lines_demo_then_tests():
    block = re.search(r"```sh\n(.*?)```", section("Quick start"), re.S).group(1).strip().splitlines()
    assert len(block) == 2
    assert "redirect-audit demo" in block[0]
    assert "pytest" in block[1]


def test_every_fact_is_documented():
    facts = section("Rules").split("### Facts", 1)[1]
    documented = re.findall(r"^\| `([a-z_]+)` \|", facts, re.M)
    assert documented == list(CATALOG)


def test_every_default_rule_is_documented():
    documented = re.findall(r"^\| `([a-z0-9-]+)` \| (?:info|low|medium|high|critical)\b", README, re.M)
    assert documented == list(RuleSet.load().rules)


def test_report_fields_are_documented():
    report = section("Report (JSON Lines)")
    documented = re.findall(r"^\| `([a-z_]+)` \|", report, re.M)
    assert documented == [f.name for f in dataclasses.fields(Finding)]


@pytest.mark.parametrize(("command", "title"), [("proxy", "Two ways to run"), ("analyze", "Recordings")])
def test_command_options_are_documented(command, title):
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    options = {opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")}
    options.discard("--help")
    documented = set(re.findall(r"`(--[a-z-]+)", section(title).split("\n## ")[0]))
    assert options <= documented
