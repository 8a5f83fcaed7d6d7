"""`redirect-audit proxy`: mitmproxy in this process, with the addon placed before mitmproxy's save addon
so that findings are in the flows `--save` writes."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sys

from mitmproxy import exceptions, options
from mitmproxy.addons import proxyserver
from mitmproxy.addons.save import Save
from mitmproxy.tools.dump import DumpMaster
from mitmproxy.utils import human

from ..adapters.mitmproxy_addon import RedirectAudit


def add_audit_before_save(master: DumpMaster, audit: RedirectAudit) -> None:
    chain = master.addons.chain
    index = next((i for i, addon in enumerate(chain) if isinstance(addon, Save)), len(chain))
    master.addons.register(audit)
    chain.insert(index, audit)


async def serve(settings: dict, extra: list[str] = ()) -> int:
    """Run until SIGINT or SIGTERM. `settings` are option values, ours included; `extra` are
    `OPTION=VALUE` strings parsed as `mitmdump --set` parses them."""
    logging.getLogger().setLevel(logging.INFO)
    master = DumpMaster(options.Options(), with_termlog=True, with_dumper=False)
    add_audit_before_save(master, RedirectAudit())
    try:
        unknown = [item.split("=", 1)[0] for item in extra if item.split("=", 1)[0] not in master.options]
        if unknown:
            raise exceptions.OptionsError(f"unknown option: {', '.join(unknown)}")
        master.options.update(termlog_verbosity="warn", **settings)
        master.options.set(*extra)
    except exceptions.OptionsError as error:
        print(f"redirect-audit proxy: {error}", file=sys.stderr)
        return 2
    if why := await _listen(master):
        print(f"redirect-audit proxy: {why}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    addresses = master.addons.get("proxyserver").listen_addrs()
    listening = " and ".join(dict.fromkeys(f"http://{human.format_address(address)}" for address in addresses))
    print(f"redirect-audit: proxy on {listening} (Ctrl-C to stop)", flush=True)
    await master.run()
    # Connections still open now are cancelled when asyncio.run() ends. asyncio's streams (Python 3.11, 3.12.1)
    # report each of those cancellations as an "Exception in callback" traceback: a clean stop looked like a crash.
    loop.set_exception_handler(_ignore_cancelled_connections)
    return getattr(master, "exit_code", 0) or 0


async def _listen(master: DumpMaster) -> str | None:
    """Start mitmproxy's servers before it runs (it keeps servers already started): None, or why one cannot
    listen. mitmproxy would log the failure with a hint about `--mode`, which is not this command's option."""
    servers = master.addons.get("proxyserver")
    failures = logging.getLogger(proxyserver.__name__)  # where mitmproxy logs a server that did not start

    def silenced(record: logging.LogRecord) -> bool:
        return False

    failures.addFilter(silenced)
    try:
        if await servers.setup_servers():
            return None
    finally:
        failures.removeFilter(silenced)
    instance = next(instance for instance in servers.servers if instance.last_exception is not None)
    error, code = instance.last_exception, getattr(instance.last_exception, "errno", None)
    host = instance.mode.listen_host(master.options.listen_host) or "*"
    where = f"{host}:{instance.mode.listen_port(master.options.listen_port)}"
    if code == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is in use (choose another --listen-port)"
    return f"cannot listen on {where}: {os.strerror(code) if code else error}"


def _ignore_cancelled_connections(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)
