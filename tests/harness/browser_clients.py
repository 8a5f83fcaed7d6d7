"""Chromium as two clients of the client matrix: `chromium-fetch` (a page's fetch(), any method, with
headers and credentials) and `chromium-form` (a form's navigation: GET, or POST of form credentials).
A page can set neither a Cookie header nor a form's extra headers: the cookie goes in the browser's jar."""

from __future__ import annotations

from urllib.parse import urlsplit

from .browser import chromium, page_context
from .matrix import SECRET_HEADERS, Case, Outcome, World

FETCH = """async ({url, method, headers, body}) => {
  try {
    const response = await fetch(url, {method, headers, body, credentials: "include", redirect: "follow"});
    await response.arrayBuffer();
    return response.status;
  } catch (error) { return String(error); }
}"""

FORM = """({url, method, fields}) => {
  const form = document.createElement("form");
  form.method = method; form.action = url;
  for (const [name, value] of fields) {
    const input = document.createElement("input"); input.name = name; input.value = value; form.append(input);
  }
  document.body.append(form); form.submit();
}"""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def run_chromium(world: World, cases: list[Case]) -> list[Outcome]:
    outcomes = []
    with chromium(world.proxy.url) as browser, page_context(browser, ignore_https_errors=True) as context:
        name, value = SECRET_HEADERS["cookie"][1].split("=", 1)
        for origin in (world.http.origins[0], world.https.origins[0]):
            context.add_cookies([{"name": name, "value": value, "url": origin + "/"}])
        pages = {}

        def page_for(url: str):
            origin = _origin(url)
            if origin not in pages:
                pages[origin] = context.new_page()
                pages[origin].goto(origin + "/page")
            return pages[origin]

        for case in cases:
            url, _, tag = world.urls(case)
            headers = {k: v for k, v in case.headers.items() if k != "Cookie"}  # the jar sends the cookie
            body = case.body.decode() if case.body else None
            status = page_for(url).evaluate(
                FETCH, {"url": url, "method": case.method, "headers": headers, "body": body}
            )
            outcomes.append(Outcome("chromium-fetch", case, tag, isinstance(status, int)))
        for case in cases:
            if not (
                (case.method == "POST" and case.secret == "form") or (case.method == "GET" and case.secret == "cookie")
            ):
                continue  # a form can only GET or POST, and can carry no headers
            url, _, tag = world.urls(case)
            page = context.new_page()
            try:
                page.goto(_origin(url) + "/page")
                fields = [pair.split("=", 1) for pair in case.body.decode().split("&")] if case.body else []
                with page.expect_navigation():
                    page.evaluate(FORM, {"url": url, "method": case.method, "fields": fields})
                outcomes.append(Outcome("chromium-form", case, tag, True))
            except Exception:  # a navigation the browser refuses (mixed content) is an outcome too
                outcomes.append(Outcome("chromium-form", case, tag, False))
            finally:
                page.close()
    return outcomes
