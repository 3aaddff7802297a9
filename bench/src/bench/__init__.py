"""Proof suites of the Exact Online connector: benchmarks and the fault suite."""
