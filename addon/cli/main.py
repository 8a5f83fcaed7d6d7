"""`redirect-audit`: thin subcommands over the engine, the rules and the addon.

Exit status: 0 success, 1 findings at or above a --fail-on level (where offered), 2 usage or input errors,
130 interrupted (Ctrl-C), 141 the reader of the output went away (`| head`), as for a process SIGPIPE ends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap
from typing import Any

from .. import __version__, options
from ..engine.facts import CATALOG
from ..engine.model import SEVERITIES, printable
from ..options import OPTIONS, PREFIX
from ..reports import FORMATS
from ..rules.pack import RuleSet
from ..rules.yamlnodes import RulesError

USAGE_ERROR = 2
INTERRUPTED = 130
BROKEN_PIPE = 141
OUTPUTS = (*FORMATS, "save")  # options naming a file a command writes


def _rules_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="FILE",
        help="rule file applied after the default pack (repeatable, in order)",
    )


def _load_rules(paths: list[str]) -> RuleSet:
    try:
        return RuleSet.load(paths)
    except RulesError as error:
        print(f"redirect-audit: invalid rules: {error}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR) from None


def _given(args: argparse.Namespace, name: str) -> Any:
    """An option's value from the command line, or its default when not given there."""
    value = getattr(args, name, None)
    return OPTIONS[name].default if value is None else value


def cmd_proxy(args: argparse.Namespace) -> int:
    from .proxy import serve

    _load_rules(args.rules or [])  # refuse to start without valid rules, with the file and line
    settings = {"listen_host": args.listen_host, "listen_port": args.listen_port}
    # only what the command line gives: the rest keeps what --set, config.yaml and the defaults say
    for name, option in OPTIONS.items():
        if getattr(args, name, None) is not None:
            settings[option.mitmproxy_name] = getattr(args, name)
    for name in FORMATS:
        if getattr(args, name) is not None:
            settings[PREFIX + name] = getattr(args, name)
    if args.save:
        settings["save_stream_file"] = args.save
    return asyncio.run(serve(settings, args.set))


def cmd_analyze(args: argparse.Namespace) -> int:
    from .analyze import analyze

    try:
        settings = options.settings(lambda name: _given(args, name))
    except RulesError as error:
        print(f"redirect-audit: invalid rules: {error}", file=sys.stderr)
        return USAGE_ERROR
    return analyze(args, settings)


def cmd_rules_list(args: argparse.Namespace) -> int:
    rules = _load_rules(args.rules)
    width = max(len(rule_id) for rule_id in rules.rules)
    for rule in rules.rules.values():
        print(f"{rule.id:<{width}}  {rule.severity:<8}  {rule.action:<5}  {rule.stage:<11}  {rule.title}")
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    rules = _load_rules(args.files)
    print(f"ok: {len(rules.rules)} rules in force from {', '.join(rules.sources)}")
    return 0


def cmd_rules_explain(args: argparse.Namespace) -> int:
    rules = _load_rules(args.rules)
    rule = rules.rules.get(args.id)
    if rule is None:
        print(f"redirect-audit: no rule '{args.id}' (see `redirect-audit rules list`)", file=sys.stderr)
        return USAGE_ERROR
    print(f"{rule.id}: {rule.title}")
    print(f"severity {rule.severity}, action {rule.action}, judged on {rule.stage}; defined at {rule.source}")
    if rule.hosts or rule.exclude_hosts:
        print(f"hosts: {', '.join(rule.hosts) or '*'}; except: {', '.join(rule.exclude_hosts) or '-'}")
    print()
    print(textwrap.fill(rule.description, width=100))
    print()
    print("facts tested: " + ", ".join(rule.facts))
    for reference in rule.references:
        print(f"  - {reference}")
    return 0


def cmd_rules_facts(args: argparse.Namespace) -> int:
    for fact in CATALOG.values():
        kind = fact.type_name
        stages = "all stages" if len(fact.stages) > 1 else ", ".join(sorted(fact.stages))
        print(f"{fact.name} ({kind}; {stages})")
        print(textwrap.fill(fact.doc, width=100, initial_indent="    ", subsequent_indent="    "))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo.run import run_demo

    return run_demo(https=args.https)


def _declared_options(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of the options and output formats declared for `command` (options.OPTIONS, reports.FORMATS)."""
    for option in OPTIONS.values():
        if command not in option.commands:
            continue
        if option.repeatable:
            parser.add_argument(option.flag, dest=option.name, action="append", metavar=option.metavar,
                                help=option.help)  # fmt: skip
        else:
            kind = int if option.type is int else str
            shown = f"{option.help} (default {option.default})" if option.default else option.help
            parser.add_argument(option.flag, dest=option.name, type=_checked(option, kind), metavar=option.metavar,
                                help=shown)  # fmt: skip
    for output in FORMATS.values():
        if command in output.commands:
            parser.add_argument(f"--{output.name}", metavar=output.metavar, help=output.help)


def _checked(option, kind):
    """A flag's value as mitmproxy's option takes it, refused by argparse (exit 2) when the option's check fails."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
            option.check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    parse.__name__ = option.name  # argparse names the flag's type in its message
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redirect-audit",
        description="Audit HTTP redirects: pair every 3xx with what the client did next, and judge the pair.",
    )
    parser.add_argument("--version", action="version", version=f"redirect-audit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    proxy = commands.add_parser("proxy", help="run an intercepting proxy that audits the redirects through it")
    proxy.add_argument("--listen-host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    proxy.add_argument("--listen-port", type=int, default=8080, help="port to listen on (default 8080)")
    _declared_options(proxy, "proxy")
    proxy.add_argument("--save", metavar="FILE.mitm", help="save the flows, with findings, as a mitmproxy flow file")
    proxy.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help="any mitmproxy or redirect_audit_* option, as mitmdump --set takes it (repeatable)",
    )
    proxy.set_defaults(func=cmd_proxy)

    analyze = commands.add_parser("analyze", help="audit recordings: mitmproxy flow files and HAR files")
    analyze.add_argument("inputs", nargs="+", metavar="INPUT", help="flow file (.mitm) or HAR file")
    _declared_options(analyze, "analyze")
    analyze.add_argument(
        "--fail-on", choices=SEVERITIES, metavar="SEVERITY", help="exit 1 when a finding reaches this severity"
    )
    analyze.add_argument("-q", "--quiet", action="store_true", help="print only the summary, not each finding")
    analyze.set_defaults(func=cmd_analyze)

    rules = commands.add_parser("rules", help="list, check and explain rules").add_subparsers(
        dest="rules_command", required=True, metavar="ACTION"
    )
    listing = rules.add_parser("list", help="the rules in force")
    _rules_option(listing)
    listing.set_defaults(func=cmd_rules_list)
    check = rules.add_parser("check", help="validate rule files (layered on the default pack)")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_rules_check)
    explain = rules.add_parser("explain", help="what a rule checks, and why")
    explain.add_argument("id")
    _rules_option(explain)
    explain.set_defaults(func=cmd_rules_explain)
    facts = rules.add_parser("facts", help="the facts rules can test")
    facts.set_defaults(func=cmd_rules_facts)

    demo = commands.add_parser("demo", help="audit a local demo of real clients and redirecting servers")
    demo.add_argument("--https", action="store_true", help="serve the demo upstream over https (a fresh certificate)")
    demo.set_defaults(func=cmd_demo)
    return parser


def _unwritable(path: str) -> str | None:
    """Why `path` cannot be written, or None; a file the check creates is removed again."""
    existed = os.path.lexists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as error:
        return error.strerror
    if not existed:
        os.remove(path)
    return None


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output file is writable before any work: a capture or an analysis is never lost at the end."""
    for option in OUTPUTS:
        path = getattr(args, option, None)
        if path and (why := _unwritable(path)):
            print(f"redirect-audit {args.command}: cannot write --{option} {printable(path)}: {why}", file=sys.stderr)
            raise SystemExit(USAGE_ERROR)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_outputs(args)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"redirect-audit {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # Nothing more can be said; stdout goes nowhere, so that its flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
