"""`sesflow local up` runs until interrupted and stops cleanly; `sesflow local status` finds it."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sesflow.local.ports import port_is_open

pytestmark = pytest.mark.integration

SESFLOW = Path(sys.executable).parent / "sesflow"
ENVIRONMENT = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "200"}


@dataclass
class LocalUp:
    """A running `sesflow local up`: its endpoints (from the status file), then what it said once stopped."""

    endpoints: dict[str, Any]
    status_file: Path
    returncode: int | None = None
    output: str = ""


@contextmanager
def local_up(workdir: Path, *options: str) -> Iterator[LocalUp]:
    """`sesflow local up --no-netbox` on free ports in `workdir`, until Ctrl-C (SIGINT) at the block's end."""
    up = subprocess.Popen(
        [str(SESFLOW), "local", "up", "--no-netbox", "--smtp-port", "0", "--api-port", "0", *options],
        cwd=workdir,
        env=ENVIRONMENT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    status_file = workdir / ".sesflow" / "local" / "stack.json"
    running = LocalUp({}, status_file)
    try:
        deadline = time.monotonic() + 60
        while not status_file.exists() and time.monotonic() < deadline and up.poll() is None:
            time.sleep(0.2)
        assert status_file.exists(), up.stdout.read() if up.stdout else ""
        running.endpoints = json.loads(status_file.read_text())
        yield running
    finally:
        up.send_signal(signal.SIGINT)
        running.output, _ = up.communicate(timeout=60)
        running.returncode = up.returncode


def local_status(workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SESFLOW), "local", "status"],
        cwd=workdir,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_local_up_serves_until_ctrl_c_and_status_sees_it(tmp_path: Path) -> None:
    with local_up(tmp_path) as up:
        host, _, port = up.endpoints["smtp"].rpartition(":")
        assert port_is_open(int(port), host)
        status = local_status(tmp_path)
        assert status.returncode == 0, status.stdout
        assert "running; SMTP open" in status.stdout
    assert up.returncode == 0, up.output
    assert "stopping" in up.output and up.output.rstrip().endswith("stopped")
    assert not port_is_open(int(port), host)
    assert not up.status_file.exists()
    assert local_status(tmp_path).returncode == 1


def test_local_up_without_netbox_runs_the_relay_alone_and_says_so_once(tmp_path: Path) -> None:
    schedule_seconds = 0.3
    with local_up(tmp_path, "--poll-seconds", str(schedule_seconds)) as up:
        endpoints = up.endpoints
        assert endpoints["handlers"] == {
            "sesflow-relay": "wired",
            "sesflow-notices-inbound": "off: no NetBox was given",
            "sesflow-notices-outbound": "off: no NetBox was given",
            "sesflow-notices-tracking": "off: no NetBox was given",
        }
        # With the notices flows off, their address is refused like any unknown one; the relay's is taken.
        host, _, port = endpoints["smtp"].rpartition(":")
        with smtplib.SMTP(host, int(port), timeout=30) as client:
            client.starttls(context=ssl.create_default_context(cafile=endpoints["smtp_certificate"]))
            client.ehlo()
            assert client.mail("provider@example.org")[0] == 250
            assert client.rcpt(endpoints["notices_address"])[0] == 550
            assert client.rcpt(endpoints["relay_address"])[0] == 250
        time.sleep(schedule_seconds * 5)  # several periods of the outbound schedule, were it wired
    assert up.returncode == 0, up.output
    off = (
        "notices flows off: no NetBox was given (set NETBOX_URL and NETBOX_API_TOKEN, or drop --no-netbox); "
        "the relay runs alone\n"
    )
    assert up.output.count(off) == 1, up.output
    assert "Traceback" not in up.output, up.output
    assert "failed" not in up.output, up.output
