"""The `when` language: a condition over facts, compiled once into a Python closure.

    when:                              # every entry must hold (and)
      status: [307, 308]               # a list: membership
      method_changed: true             # a scalar: equality
      followup_method: {ne: GET}       # an operator mapping (several operators: all must hold)
      any: [ {...}, {...} ]            # or;  all: [...] and;  not: {...} negation

Operators: eq, ne, in, not_in, gt, ge, lt, le (numbers), glob, not_glob (strings, case-insensitive
shell patterns such as "*.example.com"), contains, empty (lists; `contains` ignores case unless the fact is
case-sensitive, as cookie names are).
A fact that is null (not known) equals only null: eq/in match it only against null, ne/not_in count
it as different from every other value, and gt/ge/lt/le/glob/not_glob/contains never match it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from ..engine.facts import CATALOG, Fact
from .yamlnodes import Node

Test = Callable[[dict[str, Any]], bool]
_NUMERIC = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
_OPERATORS = ("eq", "ne", "in", "not_in", *_NUMERIC, "glob", "not_glob", "contains", "empty")


class ConditionError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def compile_condition(node: Node, stage: str) -> tuple[Test, tuple[str, ...]]:
    """Compile a `when` mapping for rules judged at `stage`; returns the test and the facts it reads."""
    used: list[str] = []
    test = _mapping(node, stage, used)
    return test, tuple(dict.fromkeys(used))


def _mapping(node: Node, stage: str, used: list[str]) -> Test:
    if node.kind != "mapping":
        raise ConditionError(node.line, "a condition must be a mapping of facts or all/any/not")
    tests = [_entry(key, value, stage, used) for key, value in node.value.items()]
    if len(tests) == 1:
        return tests[0]
    return _all_of(tests)


def _entry(key: str, node: Node, stage: str, used: list[str]) -> Test:
    if key in ("all", "any"):
        if node.kind != "list" or not node.value:
            raise ConditionError(node.line, f"'{key}' takes a non-empty list of conditions")
        parts = [_mapping(item, stage, used) for item in node.value]
        return _all_of(parts) if key == "all" else _any_of(parts)
    if key == "not":
        inner = _mapping(node, stage, used)
        return lambda facts: not inner(facts)
    fact = CATALOG.get(key)
    if fact is None:
        raise ConditionError(node.line, f"unknown fact '{key}' (see `redirect-audit rules facts`)")
    if stage not in fact.stages:
        raise ConditionError(
            node.line, f"fact '{key}' is not known when rules judge '{stage}' (only: {', '.join(sorted(fact.stages))})"
        )
    used.append(key)
    if node.kind == "mapping":
        if not node.value:
            raise ConditionError(node.line, f"fact '{key}': empty operator mapping")
        tests = [_operator(fact, op, operand) for op, operand in node.value.items()]
        return tests[0] if len(tests) == 1 else _all_of(tests)
    return _operator(fact, "in" if node.kind == "list" else "eq", node)


# Plain loops rather than all()/any() over a generator (twice as fast): every rule is tested on every event, live.
def _all_of(tests: list[Test]) -> Test:
    def test(facts: dict[str, Any]) -> bool:
        for part in tests:  # noqa: SIM110 - see above
            if not part(facts):
                return False
        return True

    return test


def _any_of(tests: list[Test]) -> Test:
    def test(facts: dict[str, Any]) -> bool:
        for part in tests:  # noqa: SIM110 - see above
            if part(facts):
                return True
        return False

    return test


def _operator(fact: Fact, op: str, node: Node) -> Test:
    name = fact.name
    if op not in _OPERATORS:
        raise ConditionError(node.line, f"fact '{name}': unknown operator '{op}' (one of {', '.join(_OPERATORS)})")
    if op in ("eq", "ne"):
        value = _literal(fact, node)
        if op == "eq":
            return lambda facts: facts.get(name) == value
        return lambda facts: facts.get(name) != value
    if op in ("in", "not_in"):
        if node.kind != "list" or not node.value:
            raise ConditionError(node.line, f"fact '{name}': '{op}' takes a non-empty list")
        values = frozenset(_literal(fact, item) for item in node.value)
        if op == "in":
            return lambda facts: facts.get(name) in values
        return lambda facts: facts.get(name) not in values
    if op in _NUMERIC:
        if fact.kind not in ("int", "number"):
            raise ConditionError(node.line, f"fact '{name}' is a {fact.kind}: '{op}' needs a number fact")
        bound = _number(name, node)
        compare = _NUMERIC[op]
        return lambda facts: (v := facts.get(name)) is not None and compare(v, bound)
    if op in ("glob", "not_glob"):
        if fact.kind != "str":
            raise ConditionError(node.line, f"fact '{name}' is a {fact.kind}: '{op}' needs a string fact")
        pattern = _glob(name, node)
        if op == "glob":
            return lambda facts: (v := facts.get(name)) is not None and pattern.fullmatch(v.lower()) is not None
        return lambda facts: (v := facts.get(name)) is not None and pattern.fullmatch(v.lower()) is None
    if fact.kind != "list":
        raise ConditionError(node.line, f"fact '{name}' is a {fact.kind}: '{op}' needs a list fact")
    if op == "contains":
        if not isinstance(node.value, str):
            raise ConditionError(node.line, f"fact '{name}': 'contains' takes a string")
        if fact.case_sensitive:
            item = node.value
            return lambda facts: item in (facts.get(name) or ())
        item = node.value.casefold()
        return lambda facts: any(value.casefold() == item for value in facts.get(name) or ())
    if not isinstance(node.value, bool):
        raise ConditionError(node.line, f"fact '{name}': 'empty' takes true or false")
    want_empty = node.value
    return lambda facts: (not facts.get(name)) == want_empty


def glob_pattern(text: str) -> re.Pattern[str]:
    """A case-insensitive shell pattern (`*`, `?`, `[...]`) as a compiled regular expression."""
    return re.compile(fnmatch.translate(text.lower()))


def _glob(name: str, node: Node) -> re.Pattern[str]:
    if not isinstance(node.value, str) or not node.value:
        raise ConditionError(node.line, f"fact '{name}': a glob is a non-empty string")
    return glob_pattern(node.value)


def _number(name: str, node: Node) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConditionError(node.line, f"fact '{name}': expected a number, got {value!r}")
    return value


def _literal(fact: Fact, node: Node) -> Any:
    value = node.value
    if node.kind != "scalar":
        raise ConditionError(node.line, f"fact '{fact.name}': expected a single value, got a {node.kind}")
    if value is None:
        if not fact.nullable:
            raise ConditionError(node.line, f"fact '{fact.name}' is never null")
        return None
    kind = fact.kind
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind in ("int", "number") and isinstance(value, int | float) and not isinstance(value, bool):
        if kind == "int" and not float(value).is_integer():
            raise ConditionError(node.line, f"fact '{fact.name}' is an integer, got {value!r}")
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "enum" and value in fact.values:
        return value
    if kind == "enum":
        raise ConditionError(node.line, f"fact '{fact.name}' is one of {', '.join(fact.values)}; got {value!r}")
    if kind == "list":
        raise ConditionError(node.line, f"fact '{fact.name}' is a list: test it with contains or empty")
    raise ConditionError(node.line, f"fact '{fact.name}' is a {kind}, got {value!r}")
