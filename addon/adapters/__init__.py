"""Adapters: mitmproxy addon and recording readers, turning flows into engine records."""
