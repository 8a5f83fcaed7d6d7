"""The rule packs shipped with redirect-audit (YAML files; this file only makes them package data)."""
