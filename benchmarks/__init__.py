"""Benchmarks, run by `make bench`: each reports figures as ratios to a baseline measured in the same run."""
