"""The fact catalogue: every fact is one definition, computable at each of its stages from real records, and the
engine produces nothing outside it."""

from __future__ import annotations

import pytest

from redirect_audit.engine.facts import CATALOG, REPORTED, STAGES, Facts
from redirect_audit.engine.pairing import Pairing

from .exchanges import req, resp

FORM = ("Content-Type", "application/x-www-form-urlencoded")


def events_of_every_stage(keep: frozenset[str] | None = None) -> dict[str, Facts]:
    """A 3xx judged alone, paired with its follow-up, and one nobody followed, from records like an adapter's."""
    pairing = Pairing(follow_timeout=10)
    pairing.keep = keep or pairing.keep
    login = req("POST", "http://a.example/login?next=/home", body=b"password=pw", headers=[FORM, ("Cookie", "s=1")])
    (response,) = pairing.response(login, resp(307, "https://b.example/cb", time=1))
    (followup,) = [e for e in pairing.request(req("POST", "https://b.example/cb", body=b"password=pw", time=2))
                   if e.stage == "followup"]  # fmt: skip
    pairing.response(req(url="http://a.example/gone", time=3), resp(302, "/nowhere", time=3))
    (unfollowed,) = pairing.finish(20)
    (step,) = login_steps(pairing)
    return {"response": response.facts, "followup": followup.facts, "no-followup": unfollowed.facts, "flow": step.facts}


def login_steps(pairing: Pairing) -> list:
    """An authorization request and the server's redirect back with a code: the `flow` events of the answer."""
    authorize = req(url="https://as.example/authorize?response_type=code&client_id=rp&state=s1"
                    "&redirect_uri=https%3A%2F%2Frp.example%2Fcb", time=30)  # fmt: skip
    pairing.request(authorize)
    pairing.completed(authorize, resp(200, None, time=30))
    answer = resp(302, "https://rp.example/cb?code=c0de&state=s1", time=31)
    pairing.response(authorize, answer)
    return [e for e in pairing.completed(authorize, answer) if e.facts["oauth_step"] == "authorization-response"]


EVENTS = events_of_every_stage()


@pytest.mark.parametrize("stage", STAGES)
def test_every_fact_of_a_stage_is_computable_there(stage):
    facts = EVENTS[stage]
    for name, fact in CATALOG.items():
        if stage in fact.stages:
            value = facts[name]
            assert fact.nullable or value is not None, name


@pytest.mark.parametrize("stage", STAGES)
def test_nothing_outside_the_catalogue_is_produced(stage):
    assert set(EVENTS[stage]) <= set(CATALOG)


def test_a_fact_is_computed_only_when_read():
    facts = events_of_every_stage(keep=REPORTED)["response"]
    assert "location_from_parameter" not in dict.keys(facts)
    assert facts["location_from_parameter"] is None  # `next=/home` is not where it went
    assert "location_from_parameter" in dict.keys(facts)


def test_a_fact_of_another_stage_is_not_known():
    assert EVENTS["response"].get("followup_method") is None
    assert EVENTS["no-followup"].get("body_state") is None
    with pytest.raises(KeyError):
        EVENTS["response"]["no_such_fact"]
