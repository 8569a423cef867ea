"""Runnable benchmarks: ``python -m bench.fanout``, ``python -m bench.ingest`` (see bench/README.md)."""
