"""Demo: a scenario upstream and real clients driven through the proxy."""
