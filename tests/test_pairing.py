"""Pairing: each 3xx with the same client's next request to its Location; chains, expiry, bounds."""

import gc
import tracemalloc

import pytest

from redirect_audit.engine.model import Body
from redirect_audit.engine.pairing import Pairing

from .exchanges import req, resp


def respond(pairing, request, response):
    """A response as the auditor passes it on: a redirect the client received starts waiting."""
    return pairing.response(request, response)


def redirect(pairing, request, response):
    events = respond(pairing, request, response)
    assert [e.stage for e in events] == ["response"]
    return events[0]


def followups(events):
    return [e for e in events if e.stage == "followup"]


def test_pairs_followup_with_its_redirect():
    p = Pairing()
    original = req("POST", "http://a.example/hook", body=b"{}")
    redirect(p, original, resp(307, "/v2/hook#frag", time=1))
    follow = req("POST", "http://a.example/v2/hook", body=b"{}", time=2)
    (event,) = followups(p.request(follow))
    assert event.redirect_flow == original.flow_id
    assert event.followup_flow == follow.flow_id
    assert event.facts["body_state"] == "preserved"
    assert event.facts["followup_delay"] == 1
    assert event.position.chain == original.flow_id and event.position.hop == 1
    assert p.pending == 0


def test_other_clients_and_other_urls_do_not_pair():
    p = Pairing()
    redirect(p, req(client="alice"), resp(302, "/next"))
    assert not followups(p.request(req(url="http://a.example/next", client="bob")))
    assert not followups(p.request(req(url="http://a.example/other", client="alice")))
    assert followups(p.request(req(url="http://a.example/next", client="alice")))


def test_same_target_with_nothing_to_tell_apart_pairs_oldest_first():
    """Only when no connection, User-Agent or body explains the follow-up better does the oldest go first."""
    p = Pairing()
    first, second = req(flow_id="first"), req(flow_id="second")
    redirect(p, first, resp(302, "/next", time=1))
    redirect(p, second, resp(302, "/next", time=2))
    (a,) = followups(p.request(req(url="http://a.example/next", time=3)))
    (b,) = followups(p.request(req(url="http://a.example/next", time=4)))
    assert (a.redirect_flow, b.redirect_flow) == ("first", "second")
    assert (a.pairing, b.pairing) == ("ambiguous", "unique")
    assert a.alternatives and a.alternatives[0]["redirect_url"] == second.url


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        ("/%7euser", "/~user"),
        ("/%41%42", "/AB"),
        ("/caf\u00e9", "/caf%C3%A9"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/q?a=1|2", "/q?a=1%7C2"),
        ("/q?a[]=1", "/q?a%5B%5D=1"),
        ("/p%2Fq", "/p%2fq"),
        ("http://A.EXAMPLE/x", "/x"),
        ("http://a.example:80/x", "/x"),
        ("/x?", "/x"),
        ("/a/./b/../c", "/a/c"),
        ("/x#frag", "/x"),
    ],
)
def test_every_spelling_of_a_location_pairs(location, sent):
    p = Pairing()
    redirect(p, req(), resp(302, location))
    (event,) = followups(p.request(req(url="http://a.example" + sent)))
    assert event.pairing == "unique"
    assert event.facts["followup_url"] == "http://a.example" + sent  # evidence keeps what the client wrote


@pytest.mark.parametrize(
    ("location", "sent"),
    [("/p%2Fq", "/p/q"), ("/q?a=1%262", "/q?a=1&2"), ("/q?a=%2B", "/q?a=+"), ("/%25", "/%")],
)
def test_an_escaped_delimiter_names_another_resource(location, sent):
    p = Pairing()
    redirect(p, req(), resp(302, location))
    assert not followups(p.request(req(url="http://a.example" + sent)))


def test_parallel_posts_pair_by_body_in_any_order():
    p = Pairing()
    bodies = [f'{{"delivery": {n}}}'.encode() for n in range(8)]
    for n, body in enumerate(bodies):
        redirect(p, req("POST", "http://a.example/hook", body=body, flow_id=f"post-{n}"), resp(307, "/v2", time=n))
    for n in (5, 2, 7, 0, 1, 6, 3, 4):
        (event,) = followups(p.request(req("POST", "http://a.example/v2", body=bodies[n], time=9)))
        assert event.redirect_flow == f"post-{n}"
        assert event.facts["body_state"] == "preserved"
        assert event.pairing == ("unique" if n == 4 else "matched")


def test_a_followup_on_the_connection_that_got_the_redirect_is_its_own():
    p = Pairing()
    redirect(p, req("POST", body=b"a", flow_id="api", connection="c1"), resp(307, "/target", time=1))
    redirect(p, req(flow_id="page", connection="c2"), resp(302, "/target", time=2))
    (get,) = followups(p.request(req(url="http://a.example/target", connection="c2", time=3)))
    (post,) = followups(p.request(req("POST", "http://a.example/target", body=b"a", connection="c1", time=4)))
    assert (get.redirect_flow, get.pairing) == ("page", "matched")
    assert (post.redirect_flow, post.pairing) == ("api", "unique")
    assert not get.facts["method_changed"] and get.facts["body_state"] == "none"


def test_another_user_agent_is_another_program_whose_redirect_is_not_taken():
    p = Pairing()
    redirect(p, req("POST", body=b"a", headers=[("User-Agent", "cli/1")]), resp(307, "/target"))
    other = req(url="http://a.example/target", headers=[("User-Agent", "browser/2")])
    assert not followups(p.request(other))
    (event,) = followups(
        p.request(req("POST", "http://a.example/target", body=b"a", headers=[("User-Agent", "cli/1")]))
    )
    assert event.user_agent == "cli/1" and event.pairing == "unique"


def test_two_programs_behind_one_address_each_get_their_own():
    p = Pairing()
    redirect(p, req("POST", body=b"x", headers=[("User-Agent", "one")], flow_id="one"), resp(307, "/t", time=1))
    redirect(p, req(headers=[("User-Agent", "two")], flow_id="two"), resp(302, "/t", time=2))
    (second,) = followups(p.request(req(url="http://a.example/t", headers=[("User-Agent", "two")])))
    assert (second.redirect_flow, second.pairing) == ("two", "matched")


def test_http_to_https_upgrade_still_pairs():
    p = Pairing()
    redirect(p, req(url="http://a.example/start"), resp(301, "http://b.example/x?y=1"))
    (event,) = followups(p.request(req(url="https://b.example/x?y=1")))
    assert event.facts["followup_upgraded"] is True


def test_cross_origin_followup_pairs_by_client_and_target():
    p = Pairing()
    redirect(p, req(url="http://127.0.0.1:8000/login"), resp(307, "http://127.0.0.2:8000/cb"))
    (event,) = followups(p.request(req("POST", url="http://127.0.0.2:8000/cb")))
    assert event.facts["origin_relation"] == "cross-site"
    assert event.facts["method_changed"] is True


def test_expired_redirects_become_not_followed():
    p = Pairing(follow_timeout=5)
    redirect(p, req(), resp(302, "/next", time=10))
    assert p.expire(14) == []
    (event,) = p.expire(15.5)
    assert event.stage == "no-followup"
    assert not followups(p.request(req(url="http://a.example/next", time=16)))
    assert p.stats.not_followed == 1


def test_finish_reports_everything_still_pending():
    p = Pairing()
    for n in range(3):
        redirect(p, req(), resp(302, f"/n{n}", time=n))
    assert [e.stage for e in p.finish(5)] == ["no-followup"] * 3
    assert p.pending == 0


def test_pending_table_is_bounded_and_evictions_counted():
    p = Pairing(max_pending=100)
    for n in range(1000):
        respond(p, req(client=f"c{n}"), resp(302, f"/n{n}", time=n * 0.001))
    assert p.pending == 100
    assert p.stats.evicted == 900
    # The newest are kept: the oldest were evicted.
    assert followups(p.request(req(url="http://a.example/n999", client="c999", time=1)))
    assert not followups(p.request(req(url="http://a.example/n0", client="c0", time=1)))


def test_chain_continues_and_counts_hops():
    p = Pairing()
    start = req(url="http://a.example/1", flow_id="start")
    redirect(p, start, resp(302, "/2"))
    hop2 = req(url="http://a.example/2")
    (f1,) = followups(p.request(hop2))
    second = redirect(p, hop2, resp(302, "/3"))
    assert second.position.chain == "start" and second.position.hop == 2
    assert second.facts["chain_length"] == 2
    (f2,) = followups(p.request(req(url="http://a.example/3")))
    assert f2.position.hop == 2


def test_a_cycle_is_a_loop_once_per_chain():
    """A -> B -> A is a loop when A is redirected again; flagged on that redirect, once per chain."""
    p = Pairing()
    a = req(url="http://a.example/a")
    loops = [redirect(p, a, resp(302, "/b")).facts["redirect_loop"]]
    for target, location in [("/b", "/a"), ("/a", "/b"), ("/b", "/a"), ("/a", "/b")]:
        nxt = req(url=f"http://a.example{target}")
        followups(p.request(nxt))
        loops.append(redirect(p, nxt, resp(302, location)).facts["redirect_loop"])
    assert loops == [False, False, True, False, False]


def test_coming_back_and_getting_an_answer_is_no_loop():
    """A login page that sets a cookie and redirects to itself, then answers 200."""
    p = Pairing()
    login = req(url="http://a.example/login")
    assert not redirect(p, login, resp(302, "/login", headers=[("Set-Cookie", "s=1")])).facts["redirect_loop"]
    again = req(url="http://a.example/login")
    (event,) = followups(p.request(again))
    assert not event.facts["redirect_loop"]
    assert respond(p, again, resp(200, None)) == []


def test_a_redirect_to_itself_redirected_again_is_a_loop():
    p = Pairing()
    redirect(p, req(url="http://a.example/self"), resp(302, "/self"))
    again = req(url="http://a.example/self")
    followups(p.request(again))
    assert redirect(p, again, resp(302, "/self")).facts["redirect_loop"] is True


def test_too_many_redirects_flagged_on_the_21st():
    p = Pairing()
    current = req(url="http://a.example/0")
    flags = []
    for n in range(1, 25):
        event = redirect(p, current, resp(302, f"/{n}"))
        flags.append(event.facts["too_many_redirects"])
        current = req(url=f"http://a.example/{n}")
        followups(p.request(current))
    assert flags.index(True) == 20 and flags.count(True) == 1


def test_location_missing_or_invalid_is_not_pending():
    p = Pairing()
    missing = redirect(p, req(), resp(302, None))
    invalid = redirect(p, req(), resp(302, "http://[::1"))
    assert missing.facts["location_state"] == "missing"
    assert invalid.facts["location_state"] == "invalid"
    assert p.pending == 0


def test_non_redirect_statuses_are_ignored():
    p = Pairing()
    assert respond(p, req(), resp(200, None)) == []
    assert respond(p, req(), resp(304, None)) == []
    assert respond(p, req(), resp(300, "/x")) == []


def test_large_body_costs_no_memory_once_pending():
    """A 100 MB body is hashed once; the pending redirect keeps its digest, not its bytes."""
    p = Pairing()
    big = b"x" * (100 * 1024 * 1024)
    original = req("POST", body=big)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    respond(p, original, resp(307, "/next"))
    del original, big
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert retained < 64 * 1024
    (event,) = followups(p.request(req("POST", url="http://a.example/next", body=b"x" * (100 * 1024 * 1024))))
    assert event.facts["body_state"] == "preserved"


def test_streamed_body_is_unknown():
    p = Pairing()
    respond(p, req("POST", body=Body(None)), resp(307, "/next"))
    (event,) = followups(p.request(req("POST", url="http://a.example/next", body=b"abc")))
    assert event.facts["original_body"] == "unknown"
    assert event.facts["body_state"] == "unknown"


def test_an_empty_query_still_pairs():
    """Browsers keep `Location: /next?`, many clients drop the `?`: the same resource either way."""
    p = Pairing()
    redirect(p, req(), resp(302, "/next?"))
    assert followups(p.request(req(url="http://a.example/next")))


def test_cors_preflight_is_not_the_followup():
    p = Pairing()
    redirect(p, req("PUT", "http://a.example/x", body=b"{}"), resp(307, "http://b.example/y"))
    preflight = req("OPTIONS", "http://b.example/y", headers=[("Access-Control-Request-Method", "PUT")])
    assert not followups(p.request(preflight))
    (event,) = followups(p.request(req("PUT", "http://b.example/y", body=b"{}")))
    assert event.facts["method_changed"] is False


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        ("/caf\u00e9", "/caf%C3%83%C2%A9"),  # urllib3 and http.client read header bytes as ISO-8859-1
        ("/th\udce9", "/th%E9"),  # bytes that are not UTF-8, passed on as they are
        ("/th\udce9", "/th%EF%BF%BD"),  # the same, as Chromium reads them
    ],
)
def test_a_location_outside_ascii_pairs_however_a_client_read_its_bytes(location, sent):
    p = Pairing()
    redirect(p, req(), resp(302, location))
    (event,) = followups(p.request(req(url="http://a.example" + sent)))
    assert event.pairing == "unique"
    assert p.pending == 0
