"""Benchmarks for issue 7: run by hand (`python -m bench.<name>`), never in CI."""
