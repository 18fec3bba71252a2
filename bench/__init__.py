"""The performance benchmarks, each beside its baseline (targets: docs/performance.md)."""
