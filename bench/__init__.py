"""Benchmarks of DESIGN.md section 8, each beside its baseline."""
