"""Every option of redirect-audit, declared once: name, type, default, help and validation. The mitmproxy addon
registers them (`redirect_audit_<name>`), `redirect-audit proxy` and `analyze` derive their flags from them
(`--<name>`), and the reference lists them. The output formats add one option each (`reports.FORMATS`).

Settings are read through `settings(get)`, where `get(name)` gives an option's current value: mitmproxy's options
for the addon, the parsed command line for `analyze`. A bad value raises ValueError (or RulesError) naming the
option and what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .engine.model import SEVERITIES, Severity
from .engine.secrets import (
    DEFAULT_MAX_PARSE_BYTES,
    DEFAULT_REDIRECT_PARAMS,
    DEFAULT_SECRET_FIELDS,
    DEFAULT_SECRET_HEADERS,
    SecretPolicy,
)
from .rules.pack import RuleSet

PREFIX = "redirect_audit_"
LIVE = frozenset({"proxy"})
BOTH = frozenset({"proxy", "analyze"})


@dataclass(frozen=True)
class Option:
    name: str  # `rules`: the mitmproxy option redirect_audit_rules, the flag --rules
    type: Any  # as mitmproxy's `--set` parses it: str, str | None, int, Sequence[str]
    default: Any
    help: str
    metavar: str
    commands: frozenset[str] = BOTH  # the CLI commands that offer it as a flag (`proxy` takes any with --set)
    check: Callable[[Any], Any] = lambda value: value  # the value as the auditor takes it; ValueError if invalid

    @property
    def mitmproxy_name(self) -> str:
        return PREFIX + self.name

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def repeatable(self) -> bool:
        return self.type == Sequence[str]

    def value(self, get: Callable[[str], Any]) -> Any:
        """The checked value; ValueError names the option."""
        try:
            return self.check(get(self.name))
        except ValueError as error:
            raise ValueError(f"{self.mitmproxy_name}: {error}") from None


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds < float("inf"):
        raise ValueError(f"must be positive, got {text!r}")
    return seconds


def _at_least(bound: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < bound:
            raise ValueError(f"must be at least {bound}, got {value}")
        return value

    return check


def _severity(value: str | None) -> Severity | None:
    return Severity(value) if value is not None else None


def _names(values: Sequence[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in values)


OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option(
            "rules", Sequence[str], [], "rule file applied after the default pack (repeatable, in order)", "FILE",
            check=list,
        ),
        Option(
            "follow_timeout", str, "30", "seconds a redirect waits for the client's follow-up before it counts as "
            "not followed (in recorded time, for recordings)", "SECONDS", check=_seconds,
        ),
        Option(
            "flow_timeout", str, "600", "seconds an OAuth, OpenID Connect or SAML login is followed after its "
            "authorization request (then forgotten)", "SECONDS", check=_seconds,
        ),
        Option(
            "max_pending", int, 10_000, "most redirects waiting for a follow-up at once; beyond it the oldest is "
            "evicted and counted", "N", check=_at_least(1),
        ),
        Option(
            "block_on", str | None, None, f"block live violations of this severity or higher ({', '.join(SEVERITIES)})",
            "SEVERITY", commands=LIVE, check=_severity,
        ),
        Option(
            "secret_fields", Sequence[str], list(DEFAULT_SECRET_FIELDS), "credential field names in forms, multipart, "
            "JSON (nested keys) and queries, case-insensitive; repeated, they replace the default list", "NAME",
            check=_names,
        ),
        Option(
            "secret_headers", Sequence[str], list(DEFAULT_SECRET_HEADERS), "custom secret headers, besides "
            "Authorization, Cookie and Proxy-Authorization; repeated, they replace the default list", "NAME",
            check=_names,
        ),
        Option(
            "redirect_params", Sequence[str], list(DEFAULT_REDIRECT_PARAMS), "request parameters an open redirect "
            "takes its target from, case-insensitive; repeated, they replace the default list", "NAME",
            check=_names,
        ),
        Option(
            "max_parse_bytes", int, DEFAULT_MAX_PARSE_BYTES, "largest request body parsed for credential fields, "
            "before and after undoing its Content-Encoding; a larger, streamed or malformed one counts as "
            "unparsed (credentials_unparsed)", "BYTES", check=_at_least(0),
        ),
    )
}  # fmt: skip


def settings(get: Callable[[str], Any], key: bytes | None = None) -> dict[str, Any]:
    """The Auditor's arguments from the options' values (`key`: keep the fingerprint key of a running session).
    Raises ValueError, or RulesError for a rule file, naming what is wrong."""
    value = {name: option.value(get) for name, option in OPTIONS.items()}
    policy = SecretPolicy(
        fields=value["secret_fields"],
        headers=value["secret_headers"],
        redirect_params=value["redirect_params"],
        max_parse_bytes=value["max_parse_bytes"],
        **({"key": key} if key else {}),
    )
    return {
        "rules": RuleSet.load(value["rules"]),
        "follow_timeout": value["follow_timeout"],
        "flow_timeout": value["flow_timeout"],
        "max_pending": value["max_pending"],
        "policy": policy,
        "block_on": value["block_on"],
    }
