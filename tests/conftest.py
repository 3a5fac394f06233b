"""Fixtures every layer shares: real local servers on loopback ports, and fresh AWS state per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from sesflow.aws.clients import AwsClients, default_clients
from sesflow.local.moto_server import MotoServer, start_moto_server
from sesflow.local.ports import LOOPBACK, free_port
from sesflow.local.seaweedfs import SeaweedS3, start_seaweedfs

REPO = Path(__file__).resolve().parents[1]
#: Sample data copied into the repository with its licence (tests/data/README.md): a bare clone is whole.
DATA = Path(__file__).resolve().parent / "data"
#: Real provider notices and the parser's expected results (circuit-maintenance-parser v2.9.0, Apache-2.0).
CORPUS = DATA / "corpus" / "circuit-maintenance-parser"
#: The relay's reference device mail and SMTP session.
SAMPLES = DATA / "samples"
DEVICE_MAIL = SAMPLES / "iot-seed-example.eml"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's server on a free port; boto3 in this process is pointed at it through the environment."""
    server = start_moto_server()
    saved = {name: os.environ.get(name) for name in server.environment()}
    os.environ.update(server.environment())
    default_clients.cache_clear()
    yield server
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    default_clients.cache_clear()


@pytest.fixture
def aws(moto_server: MotoServer) -> AwsClients:
    """Clients on a freshly reset moto: every test starts from an empty account."""
    moto_server.reset()
    return AwsClients(endpoint_url=moto_server.endpoint_url)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real S3 server that checks signatures and expiry (moto checks neither)."""
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class CollectingHandler:
    """An SMTP peer that keeps every mail it accepts."""

    received: list[ReceivedMail] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.received.append(ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        return "250 OK stored"


@dataclass
class SmtpPeer:
    host: str
    port: int
    handler: CollectingHandler


@pytest.fixture
def smtp_peer() -> Iterator[SmtpPeer]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    handler = CollectingHandler()
    controller = Controller(handler, hostname=LOOPBACK, port=free_port())
    controller.start()
    yield SmtpPeer(LOOPBACK, controller.port, handler)
    controller.stop()
