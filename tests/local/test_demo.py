"""`make demo` runs `sesflow demo`: it must keep working, and must say what is real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_relays_a_mail_and_shows_the_link_expire(tmp_path: Path) -> None:
    sesflow = Path(sys.executable).parent / "sesflow"
    done = subprocess.run(
        [str(sesflow), "demo"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={"COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "relayed to 2 recipients in one SES send" in out
    assert "link fetched now: HTTP 200" in out
    assert "later: HTTP 403 (SeaweedFS checked its expiry)" in out
    assert "0 new send(s)" in out
    assert "not built yet" in out  # it says plainly what is missing
    assert not (tmp_path / ".sesflow" / "demo").exists()  # and cleans up after itself
