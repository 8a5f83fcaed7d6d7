"""The README is part of the product: its Quick start is what CI runs, and every command, option, rule, fact and link
it names must exist. (Everything the code declares is listed in docs/reference.md, generated: tests/test_reference.py
holds that.)"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import shlex
from pathlib import Path

import pytest
from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

from redirect_audit.adapters.flows import WITHHELD_KEY
from redirect_audit.adapters.mitmproxy_addon import METADATA_KEY, RedirectAudit
from redirect_audit.auditor import Finding
from redirect_audit.cli.main import build_parser
from redirect_audit.engine.facts import CATALOG, STAGES
from redirect_audit.options import OPTIONS, PREFIX
from redirect_audit.reports import FORMATS
from redirect_audit.rules.pack import RuleSet

from .rule_fixtures import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = ["README.md", "CONTRIBUTING.md", "docs/how-it-works.md", "docs/reference.md", "docs/performance.md"]


def section(title: str) -> str:
    """The text of the `## title...` section, up to the next `## ` heading."""
    start = README.index(f"\n## {title}")
    return README[start + 1 :].split("\n## ", 1)[0]


def code(text: str) -> list[str]:
    """What the page shows as code: inline spans and the lines of code blocks."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    prose = re.sub(r"^```[a-z]*\n.*?^```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", prose) + [line for block in blocks for line in block.splitlines()]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """`proxy`, `analyze`, `rules list` ...: each subcommand's parser."""
    found = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[path + name] = sub
                    walk(sub, f"{path}{name} ")

    walk(build_parser(), "")
    return found


COMMANDS = subcommands()
FLAGS = {name: {flag for action in sub._actions for flag in action.option_strings} for name, sub in COMMANDS.items()}


def test_quick_start_is_two_lines_demo_then_tests():
    block = re.search(r"```sh\n(.*?)```", section("Quick start"), re.S).group(1).splitlines()
    assert block == [
        "./scripts/bootstrap && .venv/bin/redirect-audit demo",
        "./scripts/bootstrap --test && .venv/bin/python -m pytest",
    ]


def test_the_readme_stays_a_page_a_newcomer_reads():
    """The detail is in docs/reference.md and docs/how-it-works.md."""
    assert len(README.splitlines()) <= 210


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md", "docs/how-it-works.md"])
def test_every_redirect_audit_command_and_flag_it_names_exists(page):
    for snippet in code((ROOT / page).read_text(encoding="utf-8")):
        for invocation in re.findall(r"(?:^|[\s/(])redirect-audit ([a-z].*?)(?=$|[|;)#]|&&)", snippet):
            words = shlex.split(invocation.replace("$(", "").replace('"', ""), comments=True)
            command = words[0] if words[0] in COMMANDS else None
            assert command, f"{page}: no command redirect-audit {words[0]} ({snippet})"
            if len(words) > 1 and f"{command} {words[1]}" in COMMANDS:
                command = f"{command} {words[1]}"
            for word in words:
                flag = word.split("=", 1)[0]
                if flag.startswith("--"):
                    assert flag in FLAGS[command], f"{page}: redirect-audit {command} has no {flag} ({snippet})"
        for action in re.findall(r"^rules ([a-z]+)", snippet):
            assert f"rules {action}" in COMMANDS, f"{page}: no command redirect-audit rules {action}"


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md", "docs/how-it-works.md"])
def test_every_flag_option_mitmproxy_command_rule_and_fact_it_names_exists(page):
    bootstrap = re.findall(r"^\s+(--[a-z-]+)\)", (ROOT / "scripts" / "bootstrap").read_text(), re.M)
    scripts = {flag for path in ROOT.glob("scripts/*.py") for flag in re.findall(r"\"(--[a-z-]+)\"", path.read_text())}
    every_flag = set().union(*FLAGS.values(), bootstrap, scripts)
    ours = {PREFIX + name for name in [*OPTIONS, *FORMATS]} | {WITHHELD_KEY}
    commands = {getattr(RedirectAudit, name).command_name for name in dir(RedirectAudit)
                if isinstance(getattr(getattr(RedirectAudit, name), "command_name", None), str)}  # fmt: skip
    rules = set(RuleSet.load().rules)
    words = set(CATALOG) | {field.name for field in dataclasses.fields(Finding)} | mitmproxy_options()
    words |= {"redirect_audit", *SCENARIOS}  # the package; a rule fixture's scenarios
    words |= set(re.findall(r'"([a-z][a-z0-9_]*)"', (ROOT / "addon" / "engine" / "oauth.py").read_text()))  # OAuth's
    if page == "CONTRIBUTING.md":  # names the code too
        words |= {name for path in ROOT.glob("[as]*/**/*.py") for name in re.findall(r"\w+", path.read_text())}
    values = {value for fact in CATALOG.values() for value in fact.values} | set(STAGES)
    for snippet in code((ROOT / page).read_text(encoding="utf-8")):
        if re.fullmatch(r"--[a-z][a-z-]*", snippet):
            assert snippet in every_flag, f"{page}: no command takes {snippet}"
        for name in re.findall(r"\bredirect_audit_[a-z_]+", snippet):
            assert name in ours, f"{page}: no option {name}"
        for name in re.findall(r"\bredirectaudit\.[a-z]+", snippet):
            assert name in commands, f"{page}: no mitmproxy command {name}"
        if re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", snippet) and snippet not in ("redirect-audit", "ada-url"):
            assert snippet in rules or snippet in values, f"{page}: no rule, fact value or stage {snippet}"
        if re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", snippet) and not snippet.startswith("test_"):
            assert snippet in words, f"{page}: no fact, report field or mitmproxy option {snippet}"
    assert METADATA_KEY == "redirect_audit"  # as `metadata["redirect_audit"]` is written


def mitmproxy_options() -> set[str]:
    async def names() -> set[str]:
        return set(DumpMaster(options.Options(), with_termlog=False, with_dumper=False).options.keys())

    return asyncio.run(names())


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {slug(heading) for heading in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES)
def test_every_link_resolves_to_a_file_and_heading_that_exist(page):
    path = ROOT / page
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # https: and friends
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{page}: link to {target}: no such file"
        if anchor:
            assert anchor in anchors(linked), f"{page}: link to {target}: no such heading"


@pytest.mark.parametrize("page", ["README.md", "docs/reference.md"])
def test_every_rule_file_it_shows_is_valid(page, tmp_path):
    blocks = re.findall(r"^```yaml\n(.*?)^```", (ROOT / page).read_text(encoding="utf-8"), re.S | re.M)
    files = [block for block in blocks if block.startswith(("rules:", "overrides:", "disable:"))]
    assert files
    for number, block in enumerate(files):
        path = tmp_path / f"{number}.yaml"
        path.write_text(block, encoding="utf-8")
        RuleSet.load([path])  # raises RulesError, naming the line
