"""Every default rule against its fixture in tests/rules/: the `fires` scenario fires it, the `near_miss` does not.

Adding a rule to rules/default.yaml means adding `tests/rules/<rule-id>.yaml` (see tests/rules/README.md).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from redirect_audit.rules.pack import RuleSet

from .rule_fixtures import FixtureError, fixture_paths, load_fixture, run

RULES = RuleSet.load()
FIXTURES = fixture_paths()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_fires_and_its_near_miss_does_not(path):
    fixture = load_fixture(path)
    fired = run(fixture.fires, RULES)
    assert fixture.rule in fired, f"{path.name}: fires did not fire {fixture.rule}; it fired {sorted(fired)}"
    for finding in fired[fixture.rule]:
        if fixture.severity is not None:
            assert finding.severity == fixture.severity, f"{path.name}: hop {finding.chain['hop']}"
        for fact, value in fixture.evidence.items():
            assert finding.evidence.get(fact) == value, f"{path.name}: evidence {fact} of hop {finding.chain['hop']}"
    near_miss = run(fixture.near_miss, RULES)
    assert fixture.rule not in near_miss, f"{path.name}: near_miss fired {fixture.rule}: {near_miss[fixture.rule]}"


# not-followed's near miss is silent because the client followed: there is no no-followup event to judge at all.
SILENT_WITHOUT_AN_EVENT = {"not-followed"}


@pytest.mark.parametrize("path", [p for p in FIXTURES if p.stem not in SILENT_WITHOUT_AN_EVENT], ids=lambda p: p.stem)
def test_the_near_miss_is_silent_by_the_rule_condition(path):
    """With its condition negated, the rule fires on the near miss: the near miss reached the rule's stage and only
    the condition kept it silent. A near miss silent for another reason (nothing paired, no redirect) proves nothing."""
    fixture = load_fixture(path)
    rule = RULES.rules[fixture.rule]
    negated = replace(rule, test=lambda facts: not rule.test(facts))
    assert fixture.rule in run(fixture.near_miss, RuleSet([negated], sources=[]))


def test_every_default_rule_has_a_fixture_and_every_fixture_names_one():
    named = {path.stem for path in FIXTURES}
    assert sorted(set(RULES.rules) - named) == [], "default rules without a fixture in tests/rules/"
    assert sorted(named - set(RULES.rules)) == [], "fixtures in tests/rules/ that name no default rule"


GOOD_EXCHANGE = "  - request: GET https://a.example/old\n    response: 302 /new\n"
GOOD_NEAR_MISS = "near_miss:\n" + GOOD_EXCHANGE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("fires:\n  - request: GET https://a.example/old\n    respons: 302 /new\n" + GOOD_NEAR_MISS,
         ":4: fires[0]: unknown key 'respons'"),
        ("fires:\n  - request: GET https://a.example/old\n    response: moved /new\n" + GOOD_NEAR_MISS,
         ":4: fires[0].response: expected 'STATUS [LOCATION]'"),
        ("fires:\n  - response: 302 /new\n" + GOOD_NEAR_MISS, ":3: fires[0]: missing key 'request'"),
        ("fires:\n" + GOOD_EXCHANGE, ":2: fixture: missing key 'near_miss'"),
        ("fires:\n  - request: GET https://a.example/old\n    headers: {Cookie: [a, b]}\n" + GOOD_NEAR_MISS,
         ":4: fires[0].headers.Cookie: expected a header value"),
        ("fires:\n" + GOOD_EXCHANGE + GOOD_NEAR_MISS + "expect: {severity: severe}\n",
         ":8: expect.severity: expected one of info, low"),
        ("fires:\n" + GOOD_EXCHANGE + "fires:\n" + GOOD_EXCHANGE, ":5: duplicate key 'fires'"),
    ],
    ids=["unknown-key", "bad-response", "no-request", "no-near-miss", "bad-header", "bad-severity", "duplicate-key"],
)  # fmt: skip
def test_a_malformed_fixture_is_refused_naming_the_file_and_the_key(tmp_path: Path, body, message):
    path = tmp_path / "not-followed.yaml"
    path.write_text("# not-followed: a malformed copy; near miss: none.\n" + body)
    with pytest.raises(FixtureError) as refused:
        load_fixture(path)
    assert str(refused.value).startswith(f"{path}:")
    assert message in str(refused.value)


def test_a_fixture_without_its_comment_line_is_refused(tmp_path: Path):
    path = tmp_path / "not-followed.yaml"
    path.write_text("fires:\n" + GOOD_EXCHANGE + GOOD_NEAR_MISS)
    with pytest.raises(FixtureError, match=r"not-followed\.yaml:1: the first line must be '# not-followed: "):
        load_fixture(path)
