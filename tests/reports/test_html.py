"""The HTML report: one self-contained page (no script, nothing fetched), recorded text escaped so that it never
becomes markup, counts from the tally (every finding) whatever the chain log keeps, and a "generated" time that
SOURCE_DATE_EPOCH fixes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from redirect_audit.reports import html
from redirect_audit.reports.session import Session

from ..exchanges import req, resp
from .traffic import PASSWORD, TOKEN, auditor, clean, login_307, token_location, unfollowed

TITLE = re.compile(r"<title>redirect-audit report — (\d+) findings? in (\d+) chains?</title>")
CARD = re.compile(r'<div class="card sev-(\w+)"><div class="n">(\d+)</div>')
GENERATED = re.compile(r" · generated (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC by redirect-audit ")


class Markup(HTMLParser):
    """The elements and attributes of a page, as a browser's parser finds them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def audited(exchanges, sources=None, max_chains=2000) -> Session:
    session = Session(auditor(), write_line=lambda line: None, sources=sources)
    session.chains.max_chains = max_chains
    for batch in session.auditor.audit(exchanges):
        session.emit(batch)
    return session


def test_the_page_is_self_contained():
    page = html.page(audited(login_307() + token_location() + unfollowed() + clean()))
    tags = Markup(page).tags
    names = {tag for tag, _ in tags}
    assert names.isdisjoint({"script", "link", "img", "iframe", "object", "embed", "base", "form"})
    assert not [attrs for tag, attrs in tags if tag == "meta" and "http-equiv" in attrs]  # no refresh to elsewhere
    assert not [attrs for _, attrs in tags if any(name.startswith("on") or name == "src" for name in attrs)]
    assert {attrs["href"][0] for tag, attrs in tags if "href" in attrs} == {"#"}  # links within the page only
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style
    assert not re.search(r"(?i)<script|javascript:", page)


def test_recorded_text_is_escaped_and_never_markup():
    markup = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    first = req("GET", f"https://shop.example/go?next=https://evil.example/&q={markup}", flow_id=f"chain{markup}")
    again = req("GET", f"https://evil.example/{markup}", flow_id="next", time=1.0)
    exchanges = [(first, resp(302, f"https://evil.example/{markup}", time=0.5)), (again, resp(200, None, time=1.5))]
    page = html.page(audited(exchanges, sources=[f"<b>{markup}</b>.har"]))
    tags = Markup(page).tags
    assert not [tag for tag, _ in tags if tag in ("script", "img", "b")]
    assert {attrs["data-chain"] for tag, attrs in tags if "data-chain" in attrs} == {f"chain{markup}"}  # one value
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<script" not in page and "<img" not in page


def test_counts_come_from_the_tally_whatever_the_chain_log_keeps():
    session = audited(login_307("l1", 10.0) + login_307("l2", 20.0) + unfollowed("u", 30.0), max_chains=1)
    assert list(session.chains.chains) == ["l1"] and session.tally.total == 5
    page = html.page(session)
    assert TITLE.search(page).groups() == ("5", "3")
    assert dict(CARD.findall(page)) == {"critical": "2", "high": "2", "medium": "0", "low": "0", "info": "1"}
    row = r'<tr><td><span class="badge (\w+)">\w+</span></td><td><a href="#rule-([\w-]+)">.*?<td>(\d+)</td>'
    rows = re.findall(row, page)
    assert rows == [
        ("critical", "credentials-forwarded", "2"),
        ("high", "credential-post-307", "2"),
        ("info", "not-followed", "1"),
    ]
    assert "Not drawn below: 2 chains and 3 findings." in page
    meant = re.findall(r'<div class="rule" id="rule-([\w-]+)">', page)  # what each rule that fired means
    assert meant == ["credentials-forwarded", "credential-post-307", "not-followed"]


def test_a_session_without_findings_says_so():
    page = html.page(audited(clean(hops=2)))
    assert TITLE.search(page).groups() == ("0", "1")
    assert set(dict(CARD.findall(page)).values()) == {"0"}
    assert "No findings: every redirect was followed as the specifications ask." in page
    assert 'id="rules"' not in page and 'class="chain"' in page


def test_no_secret_reaches_the_page():
    page = html.page(audited(login_307() + token_location()))
    assert PASSWORD not in page and TOKEN not in page
    assert "access_token=redacted:" in page


def test_text_that_was_not_utf8_is_printable():
    form = req("P\udcffST", "https://shop.example/form", b"a=1", flow_id="odd", time=1.0)  # the bytes P 0xFF S T
    again = req("GET", "https://shop.example/next", flow_id="next", time=2.0)
    odd = [(form, resp(302, "/next", time=1.5)), (again, resp(200, None, time=2.5))]
    page = html.page(audited(odd))
    assert "302 · P%FFST → GET" in page
    page.encode("utf-8")  # no lone surrogate left


def test_the_generated_time_is_source_date_epoch_when_set(monkeypatch):
    session = audited(unfollowed())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795510800")
    assert GENERATED.search(html.page(session)).group(1) == "2026-11-24 09:00:00"
    assert html.page(session) == html.page(session)  # the same session, the same page


def test_the_generated_time_is_now_without_a_valid_source_date_epoch(monkeypatch):
    session = audited(unfollowed())
    for value in (None, "", "yesterday", "-1", "1.5", "9" * 30):
        if value is None:
            monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
        else:
            monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
        before = datetime.now(UTC).replace(microsecond=0)
        shown = datetime.strptime(GENERATED.search(html.page(session)).group(1), "%Y-%m-%d %H:%M:%S")
        assert before <= shown.replace(tzinfo=UTC) <= datetime.now(UTC), value
