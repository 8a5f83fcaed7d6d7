"""The rule fixtures in tests/rules/: read a file into engine records, and run a scenario through a real Auditor.

One file per default rule, `<rule-id>.yaml`, with a scenario that fires the rule and its near miss. The format is
in tests/rules/README.md. A malformed file is refused with its path, line and the key at fault, so that a typo
cannot quietly turn a scenario into one that proves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from redirect_audit.auditor import Auditor, Finding
from redirect_audit.engine.model import SEVERITIES, Body, Exchange, Headers, Request, Response
from redirect_audit.rules.pack import RuleSet
from redirect_audit.rules.yamlnodes import Node, RulesError, load

FIXTURE_DIR = Path(__file__).parent / "rules"
SCENARIOS = ("fires", "near_miss")
DEFAULT_CLIENT = "192.0.2.1"
EXCHANGE_KEYS = ("request", "headers", "body", "response", "client", "repeat")
RESPONSE_KEYS = ("status", "location", "headers", "body")
EXPECT_KEYS = ("severity", "evidence")
Fill = Callable[[str], str]  # what a repeated exchange does to its strings: `{n}` and `{next}` become numbers


class FixtureError(Exception):
    """A fixture file is malformed: the message says `path:line: key: problem`."""


@dataclass
class Fixture:
    rule: str  # the file's stem
    fires: list[Exchange]
    near_miss: list[Exchange]
    severity: str | None = None  # what every finding of the rule in `fires` must say, when given
    evidence: dict[str, Any] = field(default_factory=dict)  # facts every such finding's evidence must hold


def fixture_paths() -> list[Path]:
    return sorted(FIXTURE_DIR.glob("*.yaml"))


def load_fixture(path: Path) -> Fixture:
    rule = path.stem
    text = path.read_text(encoding="utf-8")
    first_line = text.partition("\n")[0]
    if not first_line.startswith(f"# {rule}: ") or "near miss:" not in first_line:
        raise FixtureError(f"{path}:1: the first line must be '# {rule}: <what fires>; near miss: <what does not>'")
    try:
        root = load(str(path), text)
    except RulesError as error:  # its message already names the file and line
        raise FixtureError(str(error)) from None
    if root is None or root.kind != "mapping":
        raise FixtureError(f"{path}:1: a fixture is a mapping of {', '.join(SCENARIOS)} and an optional expect")
    reader = _Reader(path)
    reader.check_keys(root, (*SCENARIOS, "expect"), "fixture")
    fixture = Fixture(rule, fires=reader.scenario(root, "fires"), near_miss=reader.scenario(root, "near_miss"))
    if (expect := root.value.get("expect")) is not None:
        reader.check_keys(reader.mapping(expect, "expect"), EXPECT_KEYS, "expect")
        if (severity := expect.value.get("severity")) is not None:
            if severity.value not in SEVERITIES:
                reader.fail(severity, "expect.severity", f"one of {', '.join(SEVERITIES)}, got {severity.value!r}")
            fixture.severity = severity.value
        if (evidence := expect.value.get("evidence")) is not None:
            fixture.evidence = reader.mapping(evidence, "expect.evidence").plain()
    return fixture


def run(exchanges: list[Exchange], rules: RuleSet) -> dict[str, list[Finding]]:
    """Feed a scenario to a real Auditor as an adapter does: each request, then its response or, when it got
    none, the flow's error; `finish` at the end, as at the end of a recording. The findings, by rule."""
    findings = [finding for batch in Auditor(rules).audit(exchanges) for finding in batch]
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    return by_rule


class _Reader:
    """Reads one file's nodes; `where` names the key at fault in messages (`fires[2].response`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: Node, where: str, expected: str) -> NoReturn:
        raise FixtureError(f"{self.path}:{node.line}: {where}: expected {expected}")

    def mapping(self, node: Node, where: str) -> Node:
        if node.kind != "mapping":
            self.fail(node, where, f"a mapping, got a {node.kind}")
        return node

    def check_keys(self, node: Node, allowed: tuple[str, ...], where: str) -> None:
        for key, value in node.value.items():
            if key not in allowed:
                raise FixtureError(
                    f"{self.path}:{value.line}: {where}: unknown key '{key}' (allowed: {', '.join(allowed)})"
                )

    def text(self, node: Node, where: str) -> str:
        if not isinstance(node.value, str):
            self.fail(node, where, f"a string, got {node.value!r}")
        return node.value

    def scenario(self, root: Node, name: str) -> list[Exchange]:
        node = root.value.get(name)
        if node is None:
            raise FixtureError(f"{self.path}:{root.line}: fixture: missing key '{name}' (a list of exchanges)")
        if node.kind != "list" or not node.value:
            self.fail(node, name, "a non-empty list of exchanges")
        exchanges: list[Exchange] = []
        for index, item in enumerate(node.value):
            where = f"{name}[{index}]"
            self.check_keys(self.mapping(item, where), EXCHANGE_KEYS, where)
            repeat = item.value.get("repeat")
            if repeat is None:
                exchanges.append(self.exchange(item, where, name, len(exchanges), _verbatim))
                continue
            if isinstance(repeat.value, bool) or not isinstance(repeat.value, int) or repeat.value < 1:
                self.fail(repeat, f"{where}.repeat", f"a count of 1 or more, got {repeat.value!r}")
            for n in range(1, repeat.value + 1):
                exchanges.append(self.exchange(item, where, name, len(exchanges), _numbered(n)))
        return exchanges

    def exchange(self, node: Node, where: str, scenario: str, index: int, fill: Fill) -> Exchange:
        fields = node.value
        if "request" not in fields:
            raise FixtureError(f"{self.path}:{node.line}: {where}: missing key 'request' ('METHOD URL')")
        method, _, url = fill(self.text(fields["request"], f"{where}.request")).strip().partition(" ")
        if not method or not url.strip():
            self.fail(fields["request"], f"{where}.request", f"'METHOD URL', got {fields['request'].value!r}")
        body = fill(self.text(fields["body"], f"{where}.body")).encode() if "body" in fields else b""
        time = float(index)  # one exchange a second: in order, and well within the follow timeout
        request = Request(
            flow_id=f"{scenario}-{index}",
            client=self.text(fields["client"], f"{where}.client") if "client" in fields else DEFAULT_CLIENT,
            method=method,
            url=url.strip(),
            headers=self.headers(fields.get("headers"), f"{where}.headers", fill),
            body=Body.of(body),
            time=time,
        )
        response = fields.get("response")
        return request, None if response is None else self.response(response, f"{where}.response", time + 0.5, fill)

    def response(self, node: Node, where: str, time: float, fill: Fill) -> Response:
        """`302`, `302 /next` (status and Location) or `{status: 302, location: /next, headers: ...}`."""
        location = None
        headers: Headers = ()
        body = b""
        if isinstance(node.value, str):
            status_text, _, location = node.value.partition(" ")  # the Location as written, after one space
            status = int(status_text) if status_text.isdigit() else None
            location = fill(location) or None
        elif node.kind == "mapping":
            self.check_keys(node, RESPONSE_KEYS, where)
            status = node.value["status"].value if "status" in node.value else None
            if "location" in node.value:
                location = fill(self.text(node.value["location"], f"{where}.location"))
            headers = self.headers(node.value.get("headers"), f"{where}.headers", fill)
            if "body" in node.value:
                body = fill(self.text(node.value["body"], f"{where}.body")).encode()
        else:
            status = node.value
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            self.fail(
                node, where, f"'STATUS [LOCATION]' or a mapping of {', '.join(RESPONSE_KEYS)}, got {node.value!r}"
            )
        if location is not None:
            headers = (("location", location), *headers)
        return Response(status=status, headers=headers, time=time, body=Body.of(body))

    def headers(self, node: Node | None, where: str, fill: Fill) -> Headers:
        """A mapping, or a list of mappings for names that repeat (`- Set-Cookie: a=1`); names in any case."""
        if node is None:
            return ()
        groups = node.value if node.kind == "list" else [node]
        pairs = []
        for group in groups:
            for name, value in self.mapping(group, where).value.items():
                if isinstance(value.value, bool) or not isinstance(value.value, str | int):
                    self.fail(value, f"{where}.{name}", f"a header value (text), got {value.value!r}")
                pairs.append((name.lower(), fill(str(value.value))))
        return tuple(pairs)


def _verbatim(text: str) -> str:
    return text


def _numbered(n: int) -> Fill:
    """Round `n` of a repeated exchange: `{n}` is its number, `{next}` the next one's (a chain's next hop)."""
    return lambda text: text.replace("{n}", str(n)).replace("{next}", str(n + 1))
