#!/usr/bin/env python3
"""Write docs/reference.md from the code: the commands, the options, the input and output formats, the rule
language, the default rules, the facts and the report's fields, each from where it is declared.

.venv/bin/python scripts/reference.py            # write docs/reference.md
.venv/bin/python scripts/reference.py --check    # exit 1 if docs/reference.md is not what this writes
.venv/bin/python scripts/reference.py --output - # print it

Nothing here is to be kept by hand but the few sentences that introduce each section and the meaning of each key
and operator of the rule language; those are checked against the code, so a new key or operator stops this script
until it is described.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import inspect
import json
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from redirect_audit.adapters import inputs
from redirect_audit.adapters.mitmproxy_addon import RedirectAudit
from redirect_audit.auditor import Auditor, Finding
from redirect_audit.cli import main as cli
from redirect_audit.engine.facts import CATALOG, STAGES, Fact
from redirect_audit.engine.model import SEVERITIES, Body, Request, Response
from redirect_audit.options import OPTIONS, PREFIX
from redirect_audit.reports import FORMATS
from redirect_audit.reports.jsonl import JsonLinesReport
from redirect_audit.rules import condition, pack
from redirect_audit.rules.yamlnodes import load

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.md"
COMMAND = ".venv/bin/python scripts/reference.py"


def render() -> str:
    sections = [
        _header(),
        _commands(),
        _options(),
        _input_formats(),
        _output_formats(),
        _rule_language(),
        _default_rules(),
        _facts(),
        _report(),
    ]
    return "\n\n".join(section.strip("\n") for section in sections) + "\n"


# --- Sections ------------------------------------------------------------------------------------------------------


def _header() -> str:
    return f"""\
# Reference

<!-- Generated from the code by scripts/reference.py: do not edit. After changing a fact, a rule, an option, a
format, a command or a report field, run `{COMMAND}`
(tests/test_reference.py fails until this file is what it writes). -->

Everything redirect-audit offers, as its code declares it. The [README](../README.md) tells what it is for;
[how it works](how-it-works.md) explains pairing, chains, secrets and block mode.

- [Commands](#commands): [`redirect-audit`](#the-redirect-audit-command) and [inside mitmproxy](#inside-mitmproxy)
- [Options](#options)
- [Input formats](#input-formats) and [output formats](#output-formats)
- [Rule files](#rule-files): keys, conditions, unknown values, errors
- [Default rules](#default-rules)
- [Facts](#facts)
- [Report fields](#report-fields) (JSON Lines)"""


def _commands() -> str:
    parser = cli.build_parser()
    declared = set(OPTIONS) | set(FORMATS)
    out = [
        "## Commands",
        "",
        "### The `redirect-audit` command",
        "",
        _paragraph(parser.description),
        "",
        _paragraph(_docstring_paragraph(cli, "Exit status")),
    ]
    for path, sub in _subcommands(parser, ["redirect-audit"]):
        out += ["", f"#### `{' '.join(path)}`", "", _sentence(_help_of(parser, path)), ""]
        own = [action for action in sub._actions if action.dest not in declared and action.dest != "help"]
        shared = [action for action in sub._actions if action.dest in declared]
        if own:
            out += ["| argument | meaning |", "|---|---|"]
            for action in own:
                out.append(f"| {_code(_spelling(action))} | {_cell(_action_help(action))} |")
        else:
            out.append("No arguments.")
        if shared:
            flags = ", ".join(f"[{_code(action.option_strings[0])}](#{_anchor(action.dest)})" for action in shared)
            out += ["", f"And the [options](#options) it takes: {flags}."]
    out += [
        "",
        "### Inside mitmproxy",
        "",
        'The addon loads into stock mitmproxy with `-s "$(python -m redirect_audit.script)"` (mitmdump, mitmproxy, '
        "mitmweb). It takes every [option](#options) with `--set redirect_audit_<name>=VALUE` (or in mitmproxy's "
        "`config.yaml`), and adds these commands, typed at mitmproxy's `:` prompt or in mitmweb's command bar:",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for name, function in _mitmproxy_commands():
        arguments = [p.name.upper() for p in inspect.signature(function).parameters.values() if p.name != "self"]
        out.append(f"| {_code(' '.join([name, *arguments]))} | {_cell(inspect.getdoc(function))} |")
    return "\n".join(out)


def _options() -> str:
    out = [
        "## Options",
        "",
        "Each option is declared once (`addon/options.py`, and one per output format in `addon/reports/__init__.py`): "
        "in mitmproxy it is `redirect_audit_<name>` (`--set redirect_audit_<name>=VALUE`), on the command line the "
        "flag `--<name>` of the commands named here; `redirect-audit proxy` takes any of them with `--set` too. A "
        "list option is given once per item (`--secret-headers X-API-Key --secret-headers X-Tenant-Key`); given at "
        "all, it replaces the default. A bad value is refused when it is set: the command exits with status 2 "
        "before any work, and mitmproxy refuses to start (or, while it runs, keeps the previous value).",
        "",
    ]
    for option in OPTIONS.values():
        out += _option_entry(
            option.name, option.flag, option.metavar, option.commands, _type_name(option.type), option.default,
            _sentence(option.help),
        )  # fmt: skip
    for output in FORMATS.values():
        out += _option_entry(
            output.name, f"--{output.name}", output.metavar, output.commands, "path or none", None,
            _sentence(output.help) + f" The [{output.name} output format](#output-formats).",
        )  # fmt: skip
    return "\n".join(out)


def _option_entry(
    name: str, flag: str, metavar: str, commands: Iterable[str], kind: str, default: Any, meaning: str
) -> list[str]:
    takers = ", ".join(f"`redirect-audit {command}`" for command in sorted(commands))
    return [
        f"### `{PREFIX}{name}`",
        "",
        f"- flag: {_code(f'{flag} {metavar}')}, in {takers}",
        f"- type: {kind}; default: {_default(default)}",
        "",
        meaning,
        "",
    ]


def _input_formats() -> str:
    out = _table(
        "## Input formats",
        "`redirect-audit analyze` tells a file's format by its first bytes (after a byte-order mark and white space), "
        "not by its name; each input is audited on its own.",
        ["format", "reader", "what it reads"],
    )
    for entry in inputs.FORMATS.values():
        module = sys.modules[entry.reader.__module__]
        where = f"`{entry.reader.__module__.replace('redirect_audit.', 'addon/').replace('.', '/')}.py`"
        out.append(f"| {entry.name} | {where} | {_cell(_paragraphs(module.__doc__)[0])} |")
    return "\n".join(out)


def _output_formats() -> str:
    out = _table(
        "## Output formats",
        "Besides the console lines and the summary, each output format is an [option](#options) that names the file "
        "to write and a [mitmproxy command](#inside-mitmproxy) that writes the session so far.",
        ["format", "option", "flag", "command", "written"],
    )
    for output in FORMATS.values():
        module = inspect.getmodule(output.snapshot)
        when = "as each finding comes" if output.stream is not None else "at the end of the session"
        out.append(
            f"| {_cell(_paragraphs(module.__doc__)[0])} | [`{PREFIX}{output.name}`](#{_anchor(output.name)}) | "
            f"`--{output.name} {output.metavar}` | `redirectaudit.{output.command} PATH` | {when} |"
        )
    return "\n".join(out)


RULE_KEYS = {  # the keys of a rule, as pack._RULE_KEYS lists them
    "id": "Lower-case words joined by hyphens, unique among the rules in force.",
    "title": "One line: what went wrong.",
    "severity": ", ".join(f"`{name}`" for name in SEVERITIES) + ": how bad a finding is.",
    "escalate": "A list of `{severity, when}`: the first whose condition holds sets the finding's severity.",
    "action": "`log` (default) or `block`: stop the violation on live traffic (block mode).",
    "on": "The stage the rule is judged on: `response` (the 3xx alone, as soon as it is seen), `followup` (the 3xx "
    "paired with the client's next request to its Location; the default), `no-followup` (a 3xx nobody followed "
    "within the follow timeout, or by the end) or `flow` (a step of an OAuth, OpenID Connect or SAML login: "
    "[Logins](how-it-works.md#logins)).",
    "description": "What it means and why it matters; `rules explain`, the blocked page and the HTML report show it.",
    "references": "A list of spec references (RFC 9110 §15.4.8 ...).",
    "when": "The condition: a mapping over the facts of the rule's stage ([Conditions](#conditions)).",
    "evidence": "A list of facts of the rule's stage shown in its findings besides those its condition reads.",
    "hosts": "Globs on the host that answered with the 3xx (`redirect_host`): only these. Default: every host.",
    "exclude_hosts": "Globs on that host: never these.",
}
FILE_KEYS = {  # the keys of a rule file, as pack._FILE_KEYS lists them
    "rules": "New rules.",
    "overrides": "A mapping of rule id to changes of a rule defined earlier (by the default pack or an earlier "
    f"file): {', '.join(f'`{key}`' for key in pack._OVERRIDE_KEYS)}.",
    "disable": "A list of rule ids to remove.",
}
OPERATORS = {  # the forms a condition's entry takes: condition._OPERATORS and condition.COMBINATORS
    "eq": "`fact: value` or `fact: {eq: value}`: equal (`status: 303`, `method_changed: true`, `location: null`).",
    "ne": "`{ne: value}`: not equal.",
    "in": "`fact: [a, b]` or `{in: [a, b]}`: one of them.",
    "not_in": "`{not_in: [a, b]}`: none of them.",
    "gt": "`{gt: n}`: greater than (numbers; several operators in one mapping must all hold).",
    "ge": "`{ge: n}`: greater than or equal.",
    "lt": "`{lt: n}`: less than.",
    "le": "`{le: n}`: less than or equal.",
    "glob": '`{glob: "*.example.com"}`: a shell pattern on a string fact, case-insensitive.',
    "not_glob": "`{not_glob: pattern}`: the pattern does not match.",
    "contains": "`{contains: x}`: a list fact holds `x` (ignoring case, except on case-sensitive lists).",
    "empty": "`{empty: true}` / `{empty: false}`: a list fact is (not) empty.",
    "all": "`all: [cond, ...]`: every condition holds.",
    "any": "`any: [cond, ...]`: at least one holds.",
    "not": "`not: cond`: the condition does not hold.",
}


def _rule_language() -> str:
    _described(RULE_KEYS, pack._RULE_KEYS, "rule key", "pack._RULE_KEYS")
    _described(FILE_KEYS, pack._FILE_KEYS, "rule-file key", "pack._FILE_KEYS")
    _described(OPERATORS, (*condition._OPERATORS, "all", "any", "not"), "operator", "condition._OPERATORS")
    required = set(pack._REQUIRED)
    out = [
        "## Rule files",
        "",
        "A rule file is one YAML mapping; files given with `--rules` (or `redirect_audit_rules`) are applied in "
        "order after the [default pack](#default-rules). `redirect-audit rules check FILE...` validates files, "
        "`rules list` shows the rules in force, `rules explain ID` one of them, `rules facts` the facts.",
        "",
        "| key of the file | meaning |",
        "|---|---|",
        *(f"| `{key}` | {_cell(FILE_KEYS[key])} |" for key in pack._FILE_KEYS),
        "",
        "| key of a rule | required | meaning |",
        "|---|---|---|",
        *(f"| `{key}` | {'yes' if key in required else ''} | {_cell(RULE_KEYS[key])} |" for key in pack._RULE_KEYS),
        "",
        "```yaml",
        "rules:",
        "  - id: internal-307",
        "    title: 307 on the internal API",
        "    severity: info",
        "    on: followup",
        "    description: Any 307 on the internal API, for the migration inventory.",
        '    references: ["RFC 9110 §15.4.8"]',
        "    escalate:",
        "      - severity: medium",
        "        when: {method_changed: true}",
        '    hosts: ["*.internal.example"]',
        '    exclude_hosts: ["legacy.internal.example"]',
        "    when:",
        "      status: 307",
        "overrides:",
        "  method-changed: {severity: critical, action: block}",
        "  body-dropped: {exclude_hosts: [legacy.example.com]}",
        "disable: [post-became-get]",
        "```",
        "",
        "### Conditions",
        "",
        "`when` is a mapping of facts to tests, and every entry must hold; `{}` always holds. A condition reads only "
        "the [facts](#facts) known at its rule's stage: the loader refuses any other.",
        "",
        "| operator | meaning |",
        "|---|---|",
        *(f"| `{name}` | {_cell(text)} |" for name, text in OPERATORS.items()),
        "",
        "**Unknown values.** " + _paragraph(_docstring_paragraph(condition, "A fact that is null")),
        "A body the proxy streamed without seeing it has `body_state: unknown`, so rules on `dropped` or `altered` "
        "stay silent rather than guess.",
        "",
        "YAML 1.2 booleans apply: only `true` and `false` are booleans (`on`, `yes`, `no` are plain strings).",
        "",
        "**Errors.** An invalid file — YAML syntax, several documents, duplicate keys, unknown keys, unknown facts or "
        "operators, a fact not known at the rule's stage, wrong value types, enum values that do not exist, "
        "duplicate ids, overrides or disables of unknown ids, an empty or non-mapping document — is refused in one "
        "line with the file, the line and the rule id, and the command exits with status 2:",
        "",
        "```",
        _rules_error_example(),
        "```",
    ]
    return "\n".join(out)


def _default_rules() -> str:
    rules = pack.RuleSet.load().rules
    written = _written_rules()
    out = [
        "## Default rules",
        "",
        f"The default pack, `rules/{pack.DEFAULT_PACK}`: {len(rules)} rules, always applied first. Rule ids are "
        "stable; a rule file can override their severity, action and hosts, or disable them.",
        "",
        "| rule | severity | judged on | action | title |",
        "|---|---|---|---|---|",
    ]
    for rule in rules.values():
        severity = rule.severity + (" (escalates)" if rule.escalations else "")
        out.append(f"| [`{rule.id}`](#{rule.id}) | {severity} | {rule.stage} | {rule.action} | {_cell(rule.title)} |")
    for rule in rules.values():
        source = written[rule.id]
        out += ["", f"### `{rule.id}`", "", f"**{rule.title}**", ""]
        out.append(f"- severity: {rule.severity}")
        for escalation in source.get("escalate", []):
            out.append(f"  - raised to {escalation['severity']} when `{_flow(escalation['when'])}`")
        out.append(f"- judged on: {rule.stage}; action: {rule.action}")
        out.append(f"- facts read: {', '.join(f'`{name}`' for name in rule.facts)}")
        when = ["when:", *_block(source["when"], 1)]
        if load("when", "\n".join(when)).plain() != {"when": source["when"]}:  # the YAML shown reads as the pack's
            raise SystemExit(f"reference: the condition of {rule.id} is not shown as written: fix _block")
        out += ["", _paragraph(rule.description), "", "```yaml", *when, "```"]
        if rule.references:
            out += ["", "References:", "", *(f"- {reference}" for reference in rule.references)]
    return "\n".join(out)


def _facts() -> str:
    out = _table(
        "## Facts",
        "The named values rule conditions test, each defined once in `addon/engine/facts.py`. A fact known at `all` "
        f"stages ({', '.join(STAGES)}) is about the 3xx and its request; one known at `followup` only is about the "
        "client's follow-up. A null fact is not known (no Location, a streamed body's length). "
        "`redirect-audit rules facts` prints the same list.",
        ["fact", "type", "stages", "meaning"],
    )
    for fact in CATALOG.values():
        stages = "all" if set(fact.stages) == set(STAGES) else ", ".join(s for s in STAGES if s in fact.stages)
        out.append(f"| `{fact.name}` | {_fact_type(fact)} | {stages} | {_cell(fact.doc)} |")
    return "\n".join(out)


def _report() -> str:
    out = _table(
        "## Report fields",
        "The JSON Lines report (`--report`, `redirect_audit_report`, `redirectaudit.jsonl`) has one finding per line, "
        "flushed per line (a killed run leaves only whole lines), in UTF-8. A byte of a URL, method or header that "
        "was not UTF-8 on the wire is written as `%XX`, here as in the console, the HTML report and flow metadata. "
        'Flows annotated by the addon hold the same records in `metadata["redirect_audit"]`.',
        ["field", "type", "meaning"],
    )
    for field in dataclasses.fields(Finding):
        doc = field.metadata.get("doc")
        if not doc:
            raise SystemExit(f"reference: Finding.{field.name} has no description: give it one with _doc(...)")
        out.append(f"| `{field.name}` | {_json_type(field)} | {_cell(doc)} |")
    out += [
        "",
        "A POST answered 301 whose follow-up kept the method but lost the body (this line is written by the "
        "report's own code):",
        "",
        "```json",
        _example_line(),
        "```",
    ]
    return "\n".join(out)


# --- From the code -------------------------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser, path: list[str]) -> Iterable[tuple[list[str], Any]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _subcommands(sub, [*path, name])
                else:
                    yield [*path, name], sub


def _help_of(parser: argparse.ArgumentParser, path: list[str]) -> str:
    """The help a subcommand was added with, as `redirect-audit --help` lists it."""
    for name in path[1:]:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        text, parser = helps[name], action.choices[name]
    return text


def _spelling(action: argparse.Action) -> str:
    if not action.option_strings:
        name = action.metavar or action.dest.upper()
        return f"{name}..." if action.nargs == "+" else name
    flags = ", ".join(action.option_strings)
    if action.nargs == 0:
        return flags
    return f"{flags} {action.metavar or action.dest.upper()}"


def _action_help(action: argparse.Action) -> str:
    text = _sentence(action.help) if action.help else ""
    if isinstance(action, argparse._AppendAction) and "repeatable" not in text:
        text += " Repeatable."
    return text.strip() or "—"


def _mitmproxy_commands() -> list[tuple[str, Any]]:
    found = {}
    for name in dir(RedirectAudit):
        function = getattr(RedirectAudit, name)
        if isinstance(getattr(function, "command_name", None), str):
            found[function.command_name] = function
    return sorted(found.items())


def _written_rules() -> dict[str, dict[str, Any]]:
    """The default pack's rules as written (their conditions in YAML), by id."""
    path = pack.default_pack_path()
    root = load(path, Path(path).read_text(encoding="utf-8")).plain()
    return {rule["id"]: rule for rule in root["rules"]}


def _rules_error_example() -> str:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "my-rules.yaml"
        path.write_text(
            "rules:\n  - id: internal-307\n    title: 307 on the internal API\n    severity: info\n"
            "    description: Any 307 on the internal API.\n    when:\n      status: '307'\n",
            encoding="utf-8",
        )
        try:
            pack.RuleSet.load([str(path)])
        except pack.RulesError as error:
            return f"redirect-audit: invalid rules: {error}".replace(str(path), path.name)
    raise SystemExit("reference: the example of an invalid rule file was accepted")


def _example_line() -> str:
    """A finding as the JSON Lines report writes it, from a real audit of two exchanges."""
    auditor = Auditor(pack.RuleSet.load())
    origin = "http://127.0.0.1:41234"
    form = ("content-type", "application/x-www-form-urlencoded")
    agent = ("user-agent", "example-client/1.0")
    first = Request(
        "5f46cbce-1fe3-4b19-8dac-4d128e22df9e", "127.0.0.1", "POST", f"{origin}/redirect?status=301&to=/echo",
        (form, agent), Body.of(b"a=1"), 1795549311.5,
    )  # fmt: skip
    followup = Request(
        "1299b02c-1790-4883-b4e7-e64053a1b933", "127.0.0.1", "POST", f"{origin}/echo", (agent,), Body.of(b""),
        1795549311.756,
    )  # fmt: skip
    exchanges = [
        (first, Response(301, (("location", "/echo"),), 1795549311.6)),
        (followup, Response(200, (), 1795549311.8)),
    ]
    findings = [finding for batch in auditor.audit(exchanges) for finding in batch if finding.rule == "body-dropped"]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "report.jsonl"
        report = JsonLinesReport(str(path), append=False)
        report.write(findings[0])
        report.close()
        return path.read_text(encoding="utf-8").strip()


# --- Text ----------------------------------------------------------------------------------------------------------


def _table(heading: str, intro: str, columns: list[str]) -> list[str]:
    """A section that is mostly a table: its heading, what it holds, the table's head."""
    return [heading, "", intro, "", f"| {' | '.join(columns)} |", "|" + "---|" * len(columns)]


def _described(descriptions: dict[str, str], declared: Sequence[str], what: str, where: str) -> None:
    missing = [name for name in declared if name not in descriptions]
    extra = [name for name in descriptions if name not in declared]
    if missing or extra:
        raise SystemExit(
            f"reference: the {what}s of {where} and those scripts/reference.py describes differ: "
            f"undescribed {missing}, no longer declared {extra}"
        )


def _type_name(kind: Any) -> str:
    names = {str: "string", int: "integer", str | None: "string or none", Sequence[str]: "list of strings"}
    if kind not in names:
        raise SystemExit(f"reference: no name for the option type {kind!r}: add it to _type_name")
    return names[kind]


def _json_type(field: dataclasses.Field) -> str:
    names = {
        "str": "string", "Severity": "string", "int": "integer", "str | None": "string or null",
        "list[str]": "list of strings", "dict[str, Any]": "object", "dict[str, str | None]": "object",
    }  # fmt: skip
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    if kind not in names:
        raise SystemExit(f"reference: no JSON type for Finding.{field.name} ({kind}): add it to _json_type")
    return names[kind]


def _fact_type(fact: Fact) -> str:
    if fact.kind == "enum":
        values = ", ".join(f"`{value}`" for value in fact.values)
        return f"enum ({values}){' or null' if fact.nullable else ''}"
    return fact.type_name


def _default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return ", ".join(f"`{item}`" for item in value) if value else "empty"
    return f"`{value}`"


def _flow(value: Any) -> str:
    """A YAML value on one line (flow style)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return _scalar(value)


def _block(value: Any, depth: int) -> list[str]:
    """A condition as YAML lines, as the pack writes them: mappings in block style, except a small one given as a
    value (`{not_in: [POST, HEAD]}`), and lists of plain values on one line."""
    pad = "  " * depth
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _nested(item):
                lines += [f"{pad}{key}:", *_block(item, depth + 1)]
            else:
                lines.append(f"{pad}{key}: {_flow(item)}")
        return lines
    for item in value:
        if isinstance(item, dict | list):
            first, *rest = _block(item, depth + 1)
            lines += [f"{pad}- {first.strip()}", *rest]
        else:
            lines.append(f"{pad}- {_flow(item)}")
    return lines


def _nested(value: Any) -> bool:
    """Written in block style: a mapping of several entries or with nested ones, a list holding mappings."""
    if isinstance(value, dict):
        return len(value) > 1 or any(_nested(item) for item in value.values())
    if isinstance(value, list):
        return any(isinstance(item, dict | list) for item in value)
    return False


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", value) and value not in ("true", "false", "null"):
        return value
    return json.dumps(value, ensure_ascii=False)


def _paragraphs(text: str | None) -> list[str]:
    return [" ".join(part.split()) for part in inspect.cleandoc(text or "").split("\n\n") if part.strip()]


def _docstring_paragraph(module: Any, start: str) -> str:
    """The module docstring's paragraph that begins with `start` (the first one for ""); a line starting with
    `start` inside a paragraph begins one too."""
    text = inspect.cleandoc(module.__doc__ or "")
    for paragraph in text.split("\n\n"):
        lines = paragraph.splitlines()
        for index, line in enumerate(lines):
            if line.startswith(start):
                return " ".join(" ".join(lines[index:]).split())
    raise SystemExit(f"reference: {module.__name__}'s docstring has no paragraph starting {start!r}")


def _paragraph(text: str | None) -> str:
    return " ".join((text or "").split())


def _sentence(text: str) -> str:
    text = _paragraph(text)
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _cell(text: str | None) -> str:
    return _paragraph(text).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`"


def _anchor(option_name: str) -> str:
    """The anchor of an option's heading (GitHub keeps underscores, drops backticks)."""
    return PREFIX + option_name


# --- Command line --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REFERENCE), help="where to write it (- for standard output)")
    parser.add_argument("--check", action="store_true", help="only compare with the file; exit 1 if they differ")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = Path(args.output).read_text(encoding="utf-8") if Path(args.output).exists() else ""
        if current == text:
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), args.output, "generated", lineterm="")
        print("\n".join(list(diff)[:40]), file=sys.stderr)
        print(f"{args.output} is out of date: run `{COMMAND}`", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
