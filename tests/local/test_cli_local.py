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


def test_local_up_without_netbox_runs_the_relay_alone_and_says_so_once(tmp_path: Path) -> None:
    schedule_seconds = 0.3
    up = subprocess.Popen(
        [
            str(SESFLOW),
            "local",
            "up",
            "--no-netbox",
            "--smtp-port",
            "0",
            "--api-port",
            "0",
            "--poll-seconds",
            str(schedule_seconds),
        ],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "100"},
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
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    off = (
        "notices flows off: no NetBox was given (set NETBOX_URL and NETBOX_API_TOKEN, or drop --no-netbox); "
        "the relay runs alone\n"
    )
    assert output.count(off) == 1, output
    assert "Traceback" not in output, output
    assert "failed" not in output, output
