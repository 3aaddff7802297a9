"""Benchmarks P1-P6: each figure a ratio of two things measured side by side in one run."""
