"""Entry point for mitmproxy's `-s`: `mitmdump -s "$(python -m redirect_audit.script)"`.

Run as a module, it prints its own path, so the same command works from a checkout and from an
installed package. Loaded by mitmproxy, it provides the addon.
"""

from redirect_audit.adapters.mitmproxy_addon import RedirectAudit

addons = [RedirectAudit()]

if __name__ == "__main__":
    print(__file__)
