"""redirect-audit: pair every HTTP redirect with what the client did next, and judge the pair.

Public API, what code outside this package (the test harness in `tests/harness/`, the scripts, a user's code) may
rely on; the rest is internal and may change: the `redirect-audit` command (`redirect_audit.cli.main`) and its
outputs; `python -m redirect_audit.script`, the addon for `mitmdump -s`, and its class
`redirect_audit.adapters.mitmproxy_addon.RedirectAudit`; `redirect_audit.auditor.Auditor` and `Finding`;
`redirect_audit.engine.model`; `redirect_audit.rules.pack.RuleSet`; `redirect_audit.errors`; the demo's pieces,
made to be extended rather than copied: `redirect_audit.demo.upstream` (`ScenarioUpstream`, `Server`, `Handler`
and its `respond`, `redirect`, `redirect_as_asked`, `echo`, `answer`, `read_body`), `redirect_audit.demo.clients`
(`send`, `SENDERS`, `Sender`, `ClientResult`, `available_clients`, `missing`, the client-name tuples),
`redirect_audit.demo.proxy` (`ProxyProcess`, `free_port`) and `redirect_audit.demo.tls.self_signed`; and the HTML
report's stylesheet, the package data `redirect_audit.reports.templates/style.css`.
"""

__version__ = "0.1.0"
