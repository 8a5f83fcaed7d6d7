#!/usr/bin/env python3
"""Run the client matrix (and its Location-spelling axis) through the proxy for every client on this machine;
write Markdown and HTML tables.

.venv/bin/python scripts/client_matrix.py [--markdown docs/client-matrix.md] [--html docs/client-matrix.html]
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT))  # the checkout, for the test harness
from tests.harness import matrix, spellings  # noqa: E402
from tests.harness.clients import matrix_clients, version  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", default=str(DOCS / "client-matrix.md"))
    parser.add_argument("--html", default=str(DOCS / "client-matrix.html"))
    parser.add_argument("--no-browser", action="store_true", help="leave Chromium out")
    args = parser.parse_args()
    clients = matrix_clients()
    outcomes = matrix.run(clients, browser=not args.no_browser)
    spelled = spellings.run(clients, browser=not args.no_browser)
    versions = {client: version(client) for client in clients}
    if not args.no_browser:
        import subprocess

        from tests.harness.browser import CHROMIUM

        chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
        versions |= {"chromium-fetch": chromium, "chromium-form": chromium, "chromium-navigation": chromium}
    when = (
        f"{datetime.now(UTC):%Y-%m-%d} on {platform.system()} {platform.machine()}, Python {platform.python_version()}"
    )
    Path(args.markdown).write_text(matrix.markdown(outcomes, versions, when) + "\n" + spellings.markdown(spelled))
    Path(args.html).write_text(matrix.html(outcomes, versions, when, spelled))
    print(f"{len(outcomes) + len(spelled)} follow-ups; wrote {args.markdown} and {args.html}")


if __name__ == "__main__":
    main()
