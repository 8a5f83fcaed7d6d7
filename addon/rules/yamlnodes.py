"""YAML read into small node objects that remember their line, so every error can name it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml


class RulesError(Exception):
    """A rule file is unusable. The message names the file, the line and, when known, the rule id."""

    def __init__(self, path: str, line: int | None, message: str, rule: str | None = None) -> None:
        where = f"{path}:{line}" if line else path
        rule_part = f" rule '{rule}':" if rule else ""
        super().__init__(f"{where}:{rule_part} {message}")
        self.path, self.line, self.rule = path, line, rule


@dataclass
class Node:
    value: Any  # dict[str, Node] for a mapping, list[Node] for a sequence, a Python scalar otherwise
    line: int  # 1-based

    @property
    def kind(self) -> str:
        if isinstance(self.value, dict):
            return "mapping"
        if isinstance(self.value, list):
            return "list"
        return "scalar"

    def plain(self) -> Any:
        """The node as plain Python values."""
        if isinstance(self.value, dict):
            return {key: node.plain() for key, node in self.value.items()}
        if isinstance(self.value, list):
            return [node.plain() for node in self.value]
        return self.value


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 reads `on:` (a rule key), yes, no and off as booleans."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_constructor = _Loader("")


def load(path: str, text: str) -> Node | None:
    """Parse one YAML document; None when it is empty. Raises RulesError on bad YAML or duplicate keys."""
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise RulesError(path, mark.line + 1 if mark else None, f"invalid YAML: {problem}") from None
    if len(documents) > 1:
        raise RulesError(path, documents[1].start_mark.line + 1, "one YAML document per rule file")
    if not documents or documents[0] is None:
        return None
    return _convert(path, documents[0])


def _convert(path: str, node: yaml.Node) -> Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        items: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = _constructor.construct_object(key_node)
            if not isinstance(key, str):
                raise RulesError(path, key_node.start_mark.line + 1, f"keys must be strings, not {key!r}")
            if key in items:
                raise RulesError(path, key_node.start_mark.line + 1, f"duplicate key '{key}'")
            items[key] = _convert(path, value_node)
        return Node(items, line)
    if isinstance(node, yaml.SequenceNode):
        return Node([_convert(path, item) for item in node.value], line)
    return Node(_constructor.construct_object(node), line)
