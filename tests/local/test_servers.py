"""The local servers the harness starts are real: they answer over sockets and stop cleanly."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from sesflow.local.moto_server import start_moto_server
from sesflow.local.ports import free_ports, port_is_open
from sesflow.local.seaweedfs import SeaweedError, SeaweedS3, start_seaweedfs

from ..conftest import DEVICE_MAIL, SmtpPeer

pytestmark = pytest.mark.integration


def test_free_ports_are_distinct() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20


def test_smtp_peer_receives_a_device_mail(smtp_peer: SmtpPeer) -> None:
    raw = DEVICE_MAIL.read_bytes()
    with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=10) as client:
        client.sendmail("sensor-gw@iot.example.com", ["relay@ingest.example.com"], raw)
    [mail] = smtp_peer.handler.received
    assert mail.rcpt_tos == ["relay@ingest.example.com"]
    assert mail.message["Subject"] == "Demo from openssl"


def test_moto_server_stops_and_frees_its_port() -> None:
    server = start_moto_server()
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    assert port_is_open(port)
    server.stop()
    assert not port_is_open(port)


def test_seaweed_serves_s3_on_loopback(seaweed: SeaweedS3) -> None:
    buckets = seaweed.clients().s3.list_buckets()
    assert "Buckets" in buckets
    assert seaweed.endpoint_url.startswith("http://127.0.0.1:")


def test_seaweed_start_failure_shows_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'cannot bind: address in use' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr("sesflow.local.seaweedfs.weed_binary", lambda: str(fake))
    with pytest.raises(SeaweedError, match=r"(?s)exited with 3.*cannot bind"):
        start_seaweedfs(tmp_path / "data", timeout=10)
