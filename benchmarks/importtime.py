"""Cold-start cost: importing sesflow's shared layers against importing boto3 alone (Lambda pays that)."""

from __future__ import annotations

import statistics
import subprocess
import sys

RUNS = 7


def import_microseconds(statement: str) -> int:
    """Total of the top-level imports `python -X importtime` reports for one fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or "cumulative" in line:
            continue
        name = parts[2]
        if name.startswith(" ") and not name.startswith("  "):  # top level: one space of indent
            total += int(parts[1])
    return total


def median_import(statement: str) -> float:
    return statistics.median(import_microseconds(statement) for _ in range(RUNS)) / 1000


def run() -> list[tuple[str, str]]:
    baseline = median_import("import boto3")
    layers = median_import("import sesflow.aws, sesflow.mail")
    config = median_import("import sesflow.config")
    return [
        ("import boto3 (baseline)", f"{baseline:.0f} ms"),
        ("import sesflow.aws, sesflow.mail", f"{layers:.0f} ms = {layers / baseline:.2f}x boto3"),
        ("import sesflow.config", f"{config:.0f} ms = {config / baseline:.2f}x boto3"),
    ]
