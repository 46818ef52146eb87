"""Benchmarks for sipscope: capture generator, timing scripts and baselines (not part of the tests)."""
