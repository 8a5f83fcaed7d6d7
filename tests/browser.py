"""Headless Chromium (Debian's package) driven by Playwright, through a proxy, for loopback targets too."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

TIMEOUT_MS = 15_000
# Playwright cannot download its own browser here: use the system's.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-bypass-list=<-loopback>",  # Chromium bypasses proxies for loopback unless told not to
]


# For the proxy the browser uses: Chromium's own background requests (component updates) must never leave
# this machine; the proxy kills every request that is not for a loopback address, before any DNS lookup.
LOOPBACK_ONLY = ("--set", r"block_list=/!~d ^127\./444")


def require_chromium() -> str:
    if CHROMIUM is None:
        pytest.fail("Chromium is required for the browser tests: run scripts/bootstrap --test (installs it)")
    return CHROMIUM


@contextmanager
def chromium(proxy: str | None = None) -> Iterator[Browser]:
    settings = {"server": proxy, "bypass": "<-loopback>"} if proxy else None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=ARGS, proxy=settings)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def page_context(browser: Browser, **options) -> Iterator[BrowserContext]:
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()
