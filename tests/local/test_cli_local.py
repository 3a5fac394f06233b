"""`sesflow local up` runs until interrupted and stops cleanly; `sesflow local status` finds it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sesflow.local.ports import port_is_open

pytestmark = pytest.mark.integration

SESFLOW = Path(sys.executable).parent / "sesflow"


def test_local_up_serves_until_ctrl_c_and_status_sees_it(tmp_path: Path) -> None:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "200"}
    up = subprocess.Popen(
        [str(SESFLOW), "local", "up", "--no-netbox", "--smtp-port", "0", "--api-port", "0"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    status_file = tmp_path / ".sesflow" / "local" / "stack.json"
    try:
        deadline = time.monotonic() + 60
        while not status_file.exists() and time.monotonic() < deadline and up.poll() is None:
            time.sleep(0.2)
        assert status_file.exists(), up.stdout.read() if up.stdout else ""
        endpoints = json.loads(status_file.read_text())
        host, _, port = endpoints["smtp"].rpartition(":")
        assert port_is_open(int(port), host)
        status = subprocess.run(
            [str(SESFLOW), "local", "status"],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert status.returncode == 0, status.stdout
        assert "running; SMTP open" in status.stdout
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "stopping" in output and output.rstrip().endswith("stopped")
    assert not port_is_open(int(port), host)
    assert not status_file.exists()
    after = subprocess.run(
        [str(SESFLOW), "local", "status"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert after.returncode == 1
