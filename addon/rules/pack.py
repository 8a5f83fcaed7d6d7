"""Rule packs: YAML files of rules, layered. The default pack first, then user files that add rules,
override the severity, action or host scope of earlier ones, or disable them."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ..engine.facts import CATALOG, STAGES
from ..engine.model import SEVERITIES, Severity
from .condition import ConditionError, Test, compile_condition, glob_pattern
from .yamlnodes import Node, RulesError, load

ACTIONS = ("log", "block")
DEFAULT_PACK = "default.yaml"

_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_FILE_KEYS = ("rules", "overrides", "disable")
_RULE_KEYS = (
    "id", "title", "severity", "escalate", "action", "on", "description", "references", "when", "evidence", "hosts",
    "exclude_hosts",
)  # fmt: skip
_ESCALATION_KEYS = ("severity", "when")
_REQUIRED = ("id", "title", "severity", "description", "when")
_OVERRIDE_KEYS = ("severity", "action", "hosts", "exclude_hosts")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    action: str  # log | block
    stage: str  # response | followup | no-followup: when the rule is judged
    description: str
    references: tuple[str, ...]
    test: Test
    facts: tuple[str, ...]  # the facts the condition reads, and those `evidence` adds: a finding's evidence
    hosts: tuple[str, ...]  # globs on redirect_host; empty: every host
    exclude_hosts: tuple[str, ...]
    source: str  # file:line where the rule (or its last override) was written
    escalations: tuple[tuple[Severity, Test], ...] = ()  # (severity, condition): the first that holds raises it

    def __post_init__(self) -> None:
        object.__setattr__(self, "_include", tuple(glob_pattern(g) for g in self.hosts))
        object.__setattr__(self, "_exclude", tuple(glob_pattern(g) for g in self.exclude_hosts))

    def severity_for(self, facts: dict[str, Any]) -> Severity:
        return next((severity for severity, test in self.escalations if test(facts)), self.severity)

    def holds(self, facts: dict[str, Any]) -> bool:
        """The rule fires on these facts: its condition holds on a host in its scope."""
        return self.test(facts) and self.applies_to(facts.get("redirect_host", ""))

    def applies_to(self, host: str) -> bool:
        host = host.lower()
        if self._include and not any(p.fullmatch(host) for p in self._include):
            return False
        return not any(p.fullmatch(host) for p in self._exclude)


def default_pack_path() -> str:
    return str(resources.files("redirect_audit.packs") / DEFAULT_PACK)


class RuleSet:
    """The rules in force, by stage, in pack order."""

    def __init__(self, rules: list[Rule], sources: list[str]) -> None:
        self.rules = {rule.id: rule for rule in rules}
        self.sources = sources
        self.by_stage: dict[str, list[Rule]] = {stage: [] for stage in STAGES}
        for rule in rules:
            self.by_stage[rule.stage].append(rule)

    @classmethod
    def load(cls, paths: list[str] | tuple[str, ...] = (), *, default: bool = True) -> RuleSet:
        """The default pack (unless `default` is false) then each file in order. Raises RulesError."""
        files = ([default_pack_path()] if default else []) + [str(p) for p in paths]
        rules: dict[str, Rule] = {}
        for path in files:
            _apply_file(path, rules)
        return cls(list(rules.values()), files)

    def facts_read(self, *stages: str) -> frozenset[str]:
        """The 3xx's facts that rules judged at these stages read."""
        return frozenset(
            name for stage in stages for rule in self.by_stage[stage] for name in rule.facts if CATALOG[name].redirect
        )

    def matching(self, stage: str, facts: dict[str, Any]) -> list[Rule]:
        return [rule for rule in self.by_stage[stage] if rule.holds(facts)]


def _apply_file(path: str, rules: dict[str, Rule]) -> None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError(path, None, f"cannot read rule file: {error}") from None
    root = load(path, text)
    if root is None:
        raise RulesError(path, None, "empty rule file (expected a mapping with rules, overrides or disable)")
    if root.kind != "mapping":
        raise RulesError(path, root.line, f"a rule file is a mapping with {', '.join(_FILE_KEYS)}; got a {root.kind}")
    _check_keys(path, root, _FILE_KEYS, None, "rule file")
    if not root.value:
        raise RulesError(path, root.line, "rule file defines nothing")
    for node in _list(path, root.value.get("rules"), "rules"):
        rule = _rule(path, node)
        if rule.id in rules:
            raise RulesError(
                path,
                node.line,
                f"duplicate id (defined at {rules[rule.id].source}; use overrides: to change it)",
                rule.id,
            )
        rules[rule.id] = rule
    overrides = root.value.get("overrides")
    if overrides is not None:
        if overrides.kind != "mapping":
            raise RulesError(path, overrides.line, "overrides is a mapping of rule id to changes")
        for rule_id, node in overrides.value.items():
            rules[rule_id] = _override(path, rule_id, node, rules)
    for node in _list(path, root.value.get("disable"), "disable"):
        if not isinstance(node.value, str):
            raise RulesError(path, node.line, f"disable lists rule ids, got {node.value!r}")
        if node.value not in rules:
            raise RulesError(path, node.line, "cannot disable: no such rule", node.value)
        del rules[node.value]


def _list(path: str, node: Node | None, key: str) -> list[Node]:
    if node is None:
        return []
    if node.kind != "list":
        raise RulesError(path, node.line, f"{key} must be a list")
    return node.value


def _check_keys(path: str, node: Node, allowed: tuple[str, ...], rule_id: str | None, what: str) -> None:
    for key, value in node.value.items():
        if key not in allowed:
            raise RulesError(
                path, value.line, f"unknown key '{key}' in {what} (allowed: {', '.join(allowed)})", rule_id
            )


def _rule(path: str, node: Node) -> Rule:
    if node.kind != "mapping":
        raise RulesError(path, node.line, f"a rule is a mapping, got a {node.kind}")
    fields = node.value
    rule_id = fields["id"].value if "id" in fields and isinstance(fields["id"].value, str) else None
    _check_keys(path, node, _RULE_KEYS, rule_id, "rule")
    for key in _REQUIRED:
        if key not in fields:
            raise RulesError(path, node.line, f"missing required key '{key}'", rule_id)
    if rule_id is None or not _ID.match(rule_id):
        raise RulesError(
            path,
            fields["id"].line,
            f"id must be lower-case words joined by hyphens, got {fields['id'].value!r}",
            rule_id,
        )
    stage = _choice(path, fields.get("on"), STAGES, "on", rule_id, default="followup")
    test, used = _condition(path, fields["when"], stage, rule_id)
    escalations = []
    for item in _list(path, fields.get("escalate"), "escalate"):
        if item.kind != "mapping" or set(item.value) != set(_ESCALATION_KEYS):
            raise RulesError(path, item.line, "an escalation is a mapping of severity and when", rule_id)
        raised, raised_facts = _condition(path, item.value["when"], stage, rule_id)
        escalations.append((Severity(_choice(path, item.value["severity"], SEVERITIES, "severity", rule_id)), raised))
        used += tuple(name for name in raised_facts if name not in used)
    for item in _list(path, fields.get("evidence"), "evidence"):  # shown too, though the condition does not read them
        used += tuple(name for name in _evidence_fact(path, item, stage, rule_id) if name not in used)
    return Rule(
        id=rule_id,
        title=_text(path, fields["title"], "title", rule_id),
        severity=Severity(_choice(path, fields["severity"], SEVERITIES, "severity", rule_id)),
        action=_choice(path, fields.get("action"), ACTIONS, "action", rule_id, default="log"),
        stage=stage,
        description=_text(path, fields["description"], "description", rule_id).strip(),
        references=_strings(path, fields.get("references"), "references", rule_id),
        test=test,
        facts=used,
        hosts=_strings(path, fields.get("hosts"), "hosts", rule_id),
        exclude_hosts=_strings(path, fields.get("exclude_hosts"), "exclude_hosts", rule_id),
        source=f"{path}:{node.line}",
        escalations=tuple(escalations),
    )


def _evidence_fact(path: str, node: Node, stage: str, rule_id: str) -> tuple[str, ...]:
    name = node.value
    fact = CATALOG.get(name) if isinstance(name, str) else None
    if fact is None:
        raise RulesError(path, node.line, f"evidence lists facts; unknown fact {name!r}", rule_id)
    if stage not in fact.stages:
        raise RulesError(path, node.line, f"fact '{name}' is not known when rules judge '{stage}'", rule_id)
    return (name,)


def _condition(path: str, node: Node, stage: str, rule_id: str) -> tuple[Test, tuple[str, ...]]:
    try:
        return compile_condition(node, stage)
    except ConditionError as error:
        raise RulesError(path, error.line, str(error), rule_id) from None


def _override(path: str, rule_id: str, node: Node, rules: dict[str, Rule]) -> Rule:
    if rule_id not in rules:
        raise RulesError(path, node.line, "cannot override: no such rule (define it under rules:)", rule_id)
    if node.kind != "mapping" or not node.value:
        raise RulesError(path, node.line, f"an override is a mapping of {', '.join(_OVERRIDE_KEYS)}", rule_id)
    _check_keys(path, node, _OVERRIDE_KEYS, rule_id, "override")
    rule, fields = rules[rule_id], node.value
    changes: dict[str, Any] = {"source": f"{path}:{node.line}"}
    if "severity" in fields:
        changes["severity"] = Severity(_choice(path, fields["severity"], SEVERITIES, "severity", rule_id))
    if "action" in fields:
        changes["action"] = _choice(path, fields["action"], ACTIONS, "action", rule_id)
    for key in ("hosts", "exclude_hosts"):
        if key in fields:
            changes[key] = _strings(path, fields[key], key, rule_id)
    return replace(rule, **changes)


def _choice(
    path: str, node: Node | None, allowed: tuple[str, ...], key: str, rule_id: str | None, default: str | None = None
) -> str:
    if node is None and default is not None:
        return default
    if node is None or node.value not in allowed:
        value = node.value if node else None
        raise RulesError(
            path, node.line if node else None, f"{key} must be one of {', '.join(allowed)}; got {value!r}", rule_id
        )
    return node.value


def _text(path: str, node: Node, key: str, rule_id: str) -> str:
    if not isinstance(node.value, str) or not node.value.strip():
        raise RulesError(path, node.line, f"{key} must be a non-empty string", rule_id)
    return node.value


def _strings(path: str, node: Node | None, key: str, rule_id: str) -> tuple[str, ...]:
    if node is None:
        return ()
    if node.kind != "list" or not all(isinstance(item.value, str) and item.value for item in node.value):
        raise RulesError(path, node.line, f"{key} must be a list of non-empty strings", rule_id)
    return tuple(item.value for item in node.value)
