"""`make demo` runs `sesflow demo`: it must start the whole local stack, walk both systems through their
real ports, and exit 0 only when every step reached its state."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.netbox]


FUNCTIONS = {
    "sesflow-relay",
    "sesflow-notices-inbound",
    "sesflow-notices-outbound",
    "sesflow-notices-tracking",
}


SESFLOW = Path(sys.executable).parent / "sesflow"


def run_demo(workdir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`sesflow demo` in `workdir`, as a person runs it; it must succeed."""
    done = subprocess.run(
        [str(SESFLOW), "demo", *options],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env={"COLUMNS": "200", "PATH": os.environ.get("PATH", os.defpath)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_demo_walks_relay_inbound_and_outbound_through_the_stack(tmp_path: Path) -> None:
    sesflow = SESFLOW
    done = run_demo(tmp_path)
    out = done.stdout
    assert "sent a device mail over SMTP (STARTTLS, AUTH LOGIN): 250 Ok" in out
    assert "relayed to 2 recipients" in out
    assert "link fetched now: HTTP 200" in out
    assert "0 new send(s)" in out
    assert out.count(": applied") == 3  # three provider notices written to NetBox
    assert "ready → delivered" in out or "ready → sent → delivered" in out
    assert "→ failed" in out  # the bounce address
    assert "did not reach their state" not in out

    # The story is not interleaved with the functions' JSON logs: they are in the file the summary names,
    # the only thing the demo leaves behind.
    assert not [line for line in out.splitlines() if line.lstrip().startswith("{")], out
    log = tmp_path / ".sesflow" / "demo" / "functions.log"
    assert (
        "the functions' logs (Powertools JSON, as CloudWatch would hold them): .sesflow/demo/functions.log"
        in out
    )
    assert [path.name for path in (tmp_path / ".sesflow" / "demo").iterdir()] == ["functions.log"]
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert {record["service"] for record in records} == FUNCTIONS
    assert [record["message"] for record in records].count("inbound mail") == 3

    # It ends with what to try next, in values that work with `sesflow local up`'s defaults.
    hints = out[out.index("what to try next") :]
    # This sesflow, by name when PATH finds it, else by its path.
    start = "SESFLOW_SMTP_USER=demo-device SESFLOW_SMTP_PASSWORD=demo-device-password {} local up"
    assert start.format(sesflow) in hints or start.format("sesflow") in hints
    assert "openssl s_client -starttls smtp -crlf -quiet -connect 127.0.0.1:2525" in hints
    for secret in ("demo-device", "demo-device-password"):
        assert f"   {base64.b64encode(secret.encode()).decode()}\n" in hints  # AUTH LOGIN's two lines
    assert "RCPT TO:<relay@ingest.example.com>" in hints
    assert "Email_Rxers_Code:[you@example.com]:Email_Rxers_Code:" in hints
    assert "outbox, a maildir: .sesflow/outbox/new/" in hints
    assert "http://127.0.0.1:8000/; log in as admin / sesflow-admin-password" in hints


def test_demo_verbose_shows_the_functions_logs_inline(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--verbose")
    inline = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"level"')]
    assert {record["service"] for record in inline} == FUNCTIONS
    assert "functions.log" not in done.stdout
    assert not (tmp_path / ".sesflow" / "demo").exists()  # nothing to keep: it cleans up after itself
