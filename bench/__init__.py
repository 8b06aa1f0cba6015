"""Benchmarks. Each one is a script: see bench/README.md."""
