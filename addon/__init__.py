"""redirect-audit: pair every HTTP redirect with what the client did next, and judge the pair."""

__version__ = "0.1.0"
