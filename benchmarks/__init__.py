"""Benchmarks, run by `make bench`: each reports figures as ratios to a baseline measured in the same run."""

from pathlib import Path

#: The real provider notices the tests use, in the repository with their licence (tests/data/README.md).
CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "corpus" / "circuit-maintenance-parser"
