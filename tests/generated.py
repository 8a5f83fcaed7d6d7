"""Recordings generated for tests of large inputs, and what the reports say about them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

SUMMARY_TOTAL = re.compile(r"^(\d+) findings$", re.M)  # the summary's last line
TITLE = re.compile(r"<title>redirect-audit report — (\d+) findings? in (\d+) chains?</title>")  # the HTML report's


def write_har(path: Path, chains: list[bool]) -> Path:
    """A HAR of one-redirect chains in order: a login POST re-sent across origins on a 307 (`credentials-forwarded`)
    for True, a clean GET 302 for False."""
    entries: list[dict] = []
    base = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def add(method: str, url: str, status: int, location: str | None = None, form: str | None = None) -> None:
        request: dict = {"method": method, "url": url, "headers": []}
        if form is not None:
            request["postData"] = {"mimeType": "application/x-www-form-urlencoded", "text": form}
        headers = [{"name": "Location", "value": location}] if location else []
        started = (base + timedelta(milliseconds=len(entries))).isoformat(timespec="milliseconds")
        entries.append(
            {"startedDateTime": started, "request": request, "response": {"status": status, "headers": headers}}
        )

    for number, flagged in enumerate(chains):
        if flagged:
            form = f"user=u{number}&password=hunter2"
            add("POST", f"https://idp.example/login/{number}", 307, f"https://other.example/in/{number}", form)
            add("POST", f"https://other.example/in/{number}", 200, form=form)
        else:
            add("GET", f"https://shop.example/old/{number}", 302, f"https://shop.example/new/{number}")
            add("GET", f"https://shop.example/new/{number}", 200)
    path.write_text(
        json.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}})
    )
    return path
