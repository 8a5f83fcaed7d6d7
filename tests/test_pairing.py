"""Pairing: each 3xx with the same client's next request to its Location; chains, expiry, bounds."""

import gc
import tracemalloc

from redirect_audit.engine.model import Body
from redirect_audit.engine.pairing import Pairing

from .exchanges import req, resp


def respond(pairing, request, response):
    """A response as the auditor passes it on: a redirect the client received starts waiting."""
    events, pending = pairing.response(request, response)
    if pending is not None:
        pairing.wait(pending)
    return events


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


def test_same_target_pairs_first_in_first_out():
    p = Pairing()
    first, second = req(flow_id="first"), req(flow_id="second")
    redirect(p, first, resp(302, "/next", time=1))
    redirect(p, second, resp(302, "/next", time=2))
    (a,) = followups(p.request(req(url="http://a.example/next", time=3)))
    (b,) = followups(p.request(req(url="http://a.example/next", time=4)))
    assert (a.redirect_flow, b.redirect_flow) == ("first", "second")


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


def test_loop_detected_once_per_chain():
    p = Pairing()
    a = req(url="http://a.example/a")
    redirect(p, a, resp(302, "/b"))
    loops = []
    for target, location in [("/b", "/a"), ("/a", "/b"), ("/b", "/a"), ("/a", "/b")]:
        nxt = req(url=f"http://a.example{target}")
        (event,) = followups(p.request(nxt))
        loops.append(event.facts["redirect_loop"])
        respond(p, nxt, resp(302, location))
    assert loops == [False, True, False, False]


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
