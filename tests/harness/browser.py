"""Headless Chromium (Debian's package) driven by Playwright, through a proxy, for loopback targets too.
Playwright is a test extra: import this module only where a browser is wanted."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, BrowserContext, sync_playwright

from .process import LOOPBACK_ONLY

__all__ = ["LOOPBACK_ONLY", "chromium", "page_context", "require_chromium"]

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


class NoChromium(RuntimeError):
    """Chromium is not installed (scripts/bootstrap --test installs Debian's package)."""


def require_chromium() -> str:
    if CHROMIUM is None:
        raise NoChromium("Chromium is required: run scripts/bootstrap --test (installs Debian's chromium)")
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
