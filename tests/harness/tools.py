"""The project's own tools (uv, the SAM CLI, the CDK CLI), found where scripts/setup installs them.

`scripts/tool-path` is the one place that knows those paths; nothing here looks at PATH, so a test passes
or fails the same way on every machine that ran the setup."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@cache
def tool_path(name: str) -> Path:
    """The installed tool, or a failure (not a skip) that says to run the setup."""
    found = subprocess.run(
        [str(REPO / "scripts" / "tool-path"), name], capture_output=True, text=True, check=False, timeout=30
    )
    if found.returncode != 0:
        pytest.fail(found.stderr.strip() or f"scripts/tool-path {name} failed", pytrace=False)
    return Path(found.stdout.strip())
