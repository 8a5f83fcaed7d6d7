"""The test harness: the real world the integration tests, the client matrix and the benchmarks run against.

- `upstream`: the demo's scenario upstream extended with every endpoint the tests need (raw answers, a hang,
  cookie gates, a login form, /secure/, virtual hosts behind an upstream-mode proxy) and a record of what arrived;
- `process`: proxies as real processes (`redirect-audit proxy`, stock `mitmdump -s`, one in front of a virtual
  upstream), and free ports;
- `clients`: the demo's real clients, and aiohttp, urllib3 and Node's fetch (`node/`);
- `matrix` and `spellings`: the client matrix and its Location-spelling axis (`templates/`: the matrix's page);
- `browser` and `browser_clients`: headless Chromium through Playwright, as clients of the matrix.

It imports nothing from `redirect_audit` but the public API that `redirect_audit`'s docstring names, and is not
part of the package (pyproject.toml ships `addon/` and `rules/` only).
"""
