"""Benchmarks that print numbers against named peers, run side by side (see bench/README.md)."""
