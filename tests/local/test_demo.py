"""`make demo` runs `sesflow demo`: it must start the whole local stack, walk both systems through their
real ports, and exit 0 only when every step reached its state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.netbox]


def test_demo_walks_relay_inbound_and_outbound_through_the_stack(tmp_path: Path) -> None:
    sesflow = Path(sys.executable).parent / "sesflow"
    done = subprocess.run(
        [str(sesflow), "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"COLUMNS": "200", "PATH": os.environ.get("PATH", os.defpath)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "sent a device mail over SMTP (STARTTLS, AUTH LOGIN): 250 Ok" in out
    assert "relayed to 2 recipients" in out
    assert "link fetched now: HTTP 200" in out
    assert "0 new send(s)" in out
    assert out.count(": applied") == 3  # three provider notices written to NetBox
    assert "ready → delivered" in out or "ready → sent → delivered" in out
    assert "→ failed" in out  # the bounce address
    assert "did not reach their state" not in out
    assert not (tmp_path / ".sesflow" / "demo").exists()  # and it cleans up after itself
