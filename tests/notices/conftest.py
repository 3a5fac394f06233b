"""Inbound tests' shared pieces: the real NetBox seeded with the corpus's providers and circuits, a bucket
on moto's server, and a way to deliver a mail as SES does (object in S3 + receipt event)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sesflow.aws.clients import AwsClients
from sesflow.aws.store import ObjectStore
from sesflow.config import Flow, InboundSettings, load_settings
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import Seeded, corpus_seed, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.notices.inbound.context import InboundDeps
from sesflow.notices.inbound.in_netbox import NoticesInNetBox
from sesflow.notices.inbound.outcome import Outcome
from sesflow.notices.inbound.pipeline import run

from ..conftest import CORPUS
from ..netbox.conftest import clean_netbox, nb_client, netbox, notices  # noqa: F401

BUCKET = "inbound-mail"
PREFIX = "inbound/"
RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "virus": "PASS", "spam": "PASS"}


@dataclass(frozen=True)
class CorpusRow:
    provider: str
    emls: tuple[str, ...]
    results: tuple[str, ...]
    note: str


def corpus_rows() -> list[CorpusRow]:
    with (CORPUS / "INDEX.tsv").open(newline="", encoding="utf-8") as index:
        return [
            CorpusRow(
                row["provider"],
                tuple(row["eml_file"].split("+")),
                tuple(row["result_file"].split("+")),
                row["note"],
            )
            for row in csv.DictReader(index, delimiter="\t")
        ]


def receipt_event(
    message_id: str,
    *,
    source: str,
    from_header: str | None = None,
    subject: str = "",
    verdicts: dict[str, str] | None = None,
    received: datetime = RECEIVED,
) -> dict[str, Any]:
    """A receipt event as SES's Lambda action sends it (no body)."""
    status = PASS | (verdicts or {})
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": received.isoformat().replace("+00:00", "Z"),
                        "source": source,
                        "messageId": message_id,
                        "destination": ["notices@example.net"],
                        "headersTruncated": False,
                        "headers": [],
                        "commonHeaders": {"from": [from_header or source], "subject": subject},
                    },
                    "receipt": {
                        "recipients": ["notices@example.net"],
                        **{f"{name}Verdict": {"status": value} for name, value in status.items()},
                        "action": {"type": "Lambda", "invocationType": "Event"},
                    },
                },
            }
        ]
    }


@dataclass
class Inbox:
    """Delivers mails the way SES's receipt rule does, and runs the inbound pipeline on them."""

    aws: AwsClients
    deps: InboundDeps
    counter: int = 0

    def deliver(self, raw: bytes, *, source: str, **event: Any) -> Outcome:
        self.counter += 1
        message_id = f"ses-{self.counter:04d}"
        # Each delivery its own receipt time, as SES gives; a replay (same counter) repeats it.
        event.setdefault("received", RECEIVED + timedelta(seconds=self.counter))
        self.aws.s3.put_object(Bucket=BUCKET, Key=PREFIX + message_id, Body=raw)
        outcomes = run(
            receipt_event(message_id, source=source, **event), self.deps, on_outcome=lambda o: None
        )
        assert len(outcomes) == 1
        return outcomes[0]


def inbound_settings_for(netbox_url: str, token: str, **environ: str) -> InboundSettings:
    return load_settings(
        Flow.INBOUND,
        {
            "NETBOX_URL": netbox_url,
            "NETBOX_API_TOKEN": token,
            "S3_BUCKET_NAME": BUCKET,
            "S3_KEY_PREFIX": PREFIX,
            "IDEMPOTENCY_TABLE": "idempotency",
            **environ,
        },
    )


@pytest.fixture
def corpus_seeded(nb_client: NetBoxClient) -> Seeded:  # noqa: F811
    return seed_netbox(nb_client, corpus_seed(CORPUS))


def build_inbox(aws: AwsClients, server: RunningNetBox, client: NetBoxClient, **environ: str) -> Inbox:
    settings = inbound_settings_for(server.url, server.tokens.admin, **environ)
    return Inbox(aws, InboundDeps(settings, ObjectStore(aws.s3), NoticesInNetBox(client)))


@pytest.fixture
def make_inbox(
    aws: AwsClients,
    clean_netbox: RunningNetBox,  # noqa: F811
    nb_client: NetBoxClient,  # noqa: F811
    corpus_seeded: Seeded,
) -> Callable[..., Inbox]:
    aws.s3.create_bucket(Bucket=BUCKET)
    return lambda **environ: build_inbox(aws, clean_netbox, nb_client, **environ)


@pytest.fixture
def inbox(make_inbox: Callable[..., Inbox]) -> Inbox:
    return make_inbox()


def corpus_path(provider: str, name: str) -> Path:
    return CORPUS / provider / name


class _NoGeocoding:
    """Stands in for geopy's Nominatim: the Cogent parser may look a city up over the network."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the parser tried to geocode over the network")


@pytest.fixture(autouse=True)
def no_parser_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import circuit_maintenance_parser.utils as parser_utils  # type: ignore[import-untyped]

    monkeypatch.setattr(parser_utils, "Nominatim", _NoGeocoding)
