"""`redirect-audit demo`: a scenario upstream, the proxy as a real process, and real clients driven through it."""
