"""Location resolution as browsers do it (WHATWG URL), and the relations rules test."""

from urllib.parse import urljoin

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redirect_audit.engine import urls

BASE = "https://app.example.com/login/form?x=1"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/next", "https://app.example.com/next"),
        ("next", "https://app.example.com/login/next"),
        ("?q=2", "https://app.example.com/login/form?q=2"),
        ("//evil.example/p", "https://evil.example/p"),
        ("/\\evil.example", "https://evil.example/"),  # urljoin keeps app.example.com here
        ("\\\\evil.example", "https://evil.example/"),
        ("https:evil.example", "https://app.example.com/login/evil.example"),  # same scheme: relative
        ("http:evil.example", "http://evil.example/"),  # another special scheme: a host
        ("http://EXAMPLE.com:80/a/../b", "http://example.com/b"),
        (" /trim ", "https://app.example.com/trim"),
        ("/a\tb", "https://app.example.com/ab"),  # tabs and newlines are removed
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("#frag", "https://app.example.com/login/form?x=1#frag"),
        ("/caf\udce9", "https://app.example.com/caf%EF%BF%BD"),  # Latin-1 bytes, as mitmproxy decodes them
    ],
)
def test_resolve_like_a_browser(location, expected):
    assert urls.resolve(BASE, location).href == expected


def test_urljoin_disagrees_where_browsers_differ():
    # The reason for a WHATWG parser: Python's resolver keeps the original host.
    assert urljoin(BASE, "/\\evil.example").startswith("https://app.example.com")
    assert urls.resolve(BASE, "/\\evil.example").host == "evil.example"


@pytest.mark.parametrize("location", ["http://[::1", "https://exa mple.com/", "http://a:99999/"])
def test_unresolvable_is_none(location):
    assert urls.resolve(BASE, location) is None


def test_non_http_scheme_resolves_but_is_not_http():
    target = urls.resolve(BASE, "javascript:alert(1)")
    assert target is not None and not target.is_http


@pytest.mark.parametrize(
    ("a", "b", "relation"),
    [
        ("https://a.example.com/", "https://a.example.com:443/x", "same-origin"),
        ("https://a.example.com/", "https://b.example.com/", "same-site"),
        ("https://a.example.co.uk/", "https://b.example.co.uk/", "same-site"),
        ("https://a.co.uk/", "https://b.co.uk/", "cross-site"),
        ("http://a.example.com/", "https://a.example.com/", "cross-site"),  # schemeful site
        ("http://127.0.0.1:8000/", "http://127.0.0.1:9000/", "same-site"),
        ("http://127.0.0.1:8000/", "http://127.0.0.2:8000/", "cross-site"),
        ("https://user.github.io/", "https://other.github.io/", "cross-site"),  # private suffix
    ],
)
def test_origin_relation(a, b, relation):
    assert urls.origin_relation(urls.parse(a), urls.parse(b)) == relation


def test_scheme_change():
    http, https = urls.parse("http://a.example/"), urls.parse("https://a.example/")
    assert urls.scheme_change(http, https) == "upgrade"
    assert urls.scheme_change(https, http) == "downgrade"
    assert urls.scheme_change(https, https) == "none"


@pytest.mark.parametrize(
    ("https_url", "http_url"),
    [
        ("https://a.example/p?q=1#f", "http://a.example/p?q=1"),
        ("https://a.example:8443/p", "http://a.example:8443/p"),
        ("https://a.example/", "http://a.example/"),
    ],
)
def test_http_variant_for_upgraded_followups(https_url, http_url):
    assert urls.http_variant(urls.parse(https_url)) == http_url


@given(st.text(max_size=300))
def test_resolve_never_raises(location):
    result = urls.resolve(BASE, location)
    assert result is None or result.href


@given(st.text(alphabet=st.sampled_from(list("/\\:@?#%.\t\r\n ab[]1")), max_size=40))
def test_resolve_never_raises_on_url_punctuation(location):
    result = urls.resolve(BASE, location)
    assert result is None or result.href
