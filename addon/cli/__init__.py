"""The redirect-audit command line."""
