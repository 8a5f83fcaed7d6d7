"""The rule language: conditions, layering of packs, and refusal of bad files with file and line."""

import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from redirect_audit.rules.pack import RuleSet
from redirect_audit.rules.yamlnodes import RulesError

FACTS = {
    "status": 307,
    "original_method": "POST",
    "followup_method": "GET",
    "method_changed": True,
    "redirect_host": "api.example.com",
    "location": None,
    "followup_content_headers": ["content-type"],
    "followup_delay": 0.5,
    "body_state": "dropped",
    "credentials_forwarded": ["form:SAMLResponse"],
    "cookies_out_of_scope": ["SID"],
}


def write(tmp_path, text, name="rules.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def only_rule(tmp_path, when, on="followup"):
    text = "rules:\n  - id: probe\n    title: t\n    severity: low\n    description: d\n"
    text += f"    on: {on}\n    when: {when}\n"
    return RuleSet.load([write(tmp_path, text)], default=False).rules["probe"]


@pytest.mark.parametrize(
    ("when", "matches"),
    [
        ("{status: 307}", True),
        ("{status: 308}", False),
        ("{status: [307, 308]}", True),
        ("{status: {in: [301, 302]}}", False),
        ("{status: {not_in: [301, 302]}}", True),
        ("{status: {ge: 307, lt: 308}}", True),
        ("{status: {gt: 307}}", False),
        ("{followup_delay: {le: 0.5}}", True),
        ("{followup_method: {ne: POST}}", True),
        ("{redirect_host: {glob: '*.EXAMPLE.com'}}", True),
        ("{redirect_host: {not_glob: 'api.*'}}", False),
        ("{followup_content_headers: {contains: Content-Type}}", True),
        ("{followup_content_headers: {empty: true}}", False),
        # lists compare in any case, but cookie names, which are case-sensitive
        ("{credentials_forwarded: {contains: 'form:SAMLResponse'}}", True),
        ("{credentials_forwarded: {contains: 'form:samlresponse'}}", True),
        ("{cookies_out_of_scope: {contains: SID}}", True),
        ("{cookies_out_of_scope: {contains: sid}}", False),
        ("{method_changed: true, status: 307}", True),
        ("{any: [{status: 301}, {body_state: dropped}]}", True),
        ("{all: [{status: 307}, {body_state: preserved}]}", False),
        ("{not: {status: 307}}", False),
        # null facts: equal only to null; never match ordering or globs
        ("{location: null}", True),
        ("{location: {ne: 'http://x/'}}", True),
        ("{location: {glob: '*'}}", False),
        ("{}", True),
    ],
)
def test_conditions(tmp_path, when, matches):
    assert only_rule(tmp_path, when).test(FACTS) is matches


def test_evidence_lists_the_facts_read(tmp_path):
    rule = only_rule(tmp_path, "{status: 307, any: [{method_changed: true}, {status: 308}]}")
    assert rule.facts == ("status", "method_changed")


def test_user_file_adds_overrides_disables_and_scopes(tmp_path):
    user = write(
        tmp_path,
        """
        rules:
          - id: internal-307
            title: Internal 307
            severity: info
            description: Any 307 on the internal API.
            when: {status: 307}
            hosts: ["*.internal.example"]
        overrides:
          method-changed: {severity: critical, action: block}
          body-dropped: {exclude_hosts: [legacy.example.com]}
        disable: [post-became-get]
        """,
    )
    rules = RuleSet.load([user])
    assert "post-became-get" not in rules.rules
    assert rules.rules["method-changed"].severity == "critical"
    assert rules.rules["method-changed"].action == "block"
    assert rules.rules["method-changed"].source.endswith("rules.yaml:10")
    assert not rules.rules["body-dropped"].applies_to("legacy.example.com")
    assert rules.rules["body-dropped"].applies_to("api.example.com")
    facts = dict(FACTS, redirect_host="svc.internal.example")
    assert "internal-307" in [r.id for r in rules.matching("followup", facts)]
    assert "internal-307" not in [r.id for r in rules.matching("followup", FACTS)]


BAD_FILES = [
    ("", 0, "empty rule file"),
    ("- just\n- a list\n", 1, "a rule file is a mapping"),
    ("rules: [\n", 2, "invalid YAML"),
    ("rules: []\nextra: 1\n", 2, "unknown key 'extra'"),
    (
        "rules:\n  - id: a\n    title: t\n    severity: high\n    description: d\n    when: {nope: 1}\n",
        6,
        "rule 'a': unknown fact 'nope'",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: urgent\n    description: d\n    when: {}\n",
        4,
        "rule 'a': severity must be one of",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    action: drop\n    description: d\n    when: {}\n",
        5,
        "rule 'a': action must be one of",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    description: d\n    when: {status: '307'}\n",
        6,
        "rule 'a': fact 'status' is a int",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    description: d\n    when: {status: {gt: x}}\n",
        6,
        "expected a number",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    description: d\n    when: {body_state: gone}\n",
        6,
        "fact 'body_state' is one of",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    description: d\n    on: response\n"
        "    when: {followup_method: GET}\n",
        7,
        "fact 'followup_method' is not known when rules judge 'response'",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    description: d\n    when: {status: {between: 1}}\n",
        6,
        "unknown operator 'between'",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    description: d\n    colour: red\n    when: {}\n",
        6,
        "rule 'a': unknown key 'colour'",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    when: {}\n",
        2,
        "rule 'a': missing required key 'description'",
    ),
    (
        "rules:\n  - id: Bad_Id\n    title: t\n    severity: low\n    description: d\n    when: {}\n",
        2,
        "id must be lower-case",
    ),
    (
        "rules:\n  - id: method-changed\n    title: t\n    severity: low\n    description: d\n    when: {}\n",
        2,
        "rule 'method-changed': duplicate id",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    title: u\n    severity: low\n    description: d\n    when: {}\n",
        4,
        "duplicate key 'title'",
    ),
    ("overrides:\n  no-such-rule: {severity: low}\n", 2, "rule 'no-such-rule': cannot override"),
    ("overrides:\n  method-changed: {when: {}}\n", 2, "unknown key 'when' in override"),
    ("disable: [no-such-rule]\n", 1, "rule 'no-such-rule': cannot disable"),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    description: d\n"
        "    hosts: example.com\n    when: {}\n",
        6,
        "hosts must be a list",
    ),
    (
        "rules:\n  - id: a\n    title: t\n    severity: low\n    description: d\n    when: [status]\n",
        6,
        "a condition must be a mapping",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_FILES, ids=[m for _, _, m in BAD_FILES])
def test_bad_files_are_refused_with_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text, "bad.yaml")
    with pytest.raises(RulesError) as caught:
        RuleSet.load([path])
    text = str(caught.value)
    assert message in text
    expected_where = f"{path}:{line}:" if line else f"{path}:"
    assert text.startswith(expected_where), text


def test_yaml_1_1_booleans_are_plain_strings(tmp_path):
    # `on:` must stay a key, and values such as `no` must not turn into false.
    rule = only_rule(tmp_path, "{original_method: {ne: no}}", on="followup")
    assert rule.test(FACTS)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(RulesError, match="cannot read rule file"):
        RuleSet.load([str(tmp_path / "absent.yaml")])


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 400),
    st.floats(allow_nan=False, width=32),
    st.sampled_from(["GET", "307", "dropped", "*.example", "", "null"]),
)
_keys = st.sampled_from(
    [
        "status",
        "method_changed",
        "body_state",
        "location",
        "followup_content_headers",
        "redirect_host",
        "all",
        "any",
        "not",
        "eq",
        "in",
        "gt",
        "glob",
        "contains",
        "empty",
        "nope",
    ]
)
_documents = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3), max_leaves=12
)


@settings(max_examples=300, deadline=None)
@given(when=_documents, on=st.sampled_from(["response", "followup", "no-followup"]))
def test_any_condition_compiles_or_is_refused_cleanly(tmp_path_factory, when, on):
    """Whatever a user writes under `when`, the loader answers with a rule or a RulesError, never a crash."""
    document = {"rules": [{"id": "fuzz", "title": "t", "severity": "low", "description": "d", "on": on, "when": when}]}
    path = tmp_path_factory.mktemp("fuzz") / "rules.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        rules = RuleSet.load([str(path)], default=False)
    except RulesError as error:
        assert str(error).startswith(f"{path}:")
        return
    rule = rules.rules["fuzz"]
    assert isinstance(rule.test(FACTS), bool)
