"""Outbound tests' shared pieces: the real NetBox (fixtures inherited from tests/notices/conftest.py, which
imports them from tests/netbox), moto's server for SES and the claim table, a clock the tests move, and a way
to make `ready` notifications with a few requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from sesflow.aws.clients import AwsClients
from sesflow.aws.ses import SendRateLimiter, SesSender
from sesflow.config import Flow, OutboundSettings, load_settings
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import CONTACTS, Seeded
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN, NoticesApi
from sesflow.netbox.records import NotificationStatus
from sesflow.netbox.retry import RetryPolicy
from sesflow.notices.claims import ClaimTable
from sesflow.notices.outbound.delivery import OutboundDeps
from sesflow.resources import RESOURCES

# `netbox`, `clean_netbox`, `nb_client` and `notices` come from tests/notices/conftest.py; only `seeded` is
# not re-exported there (importing the session fixture again would start a second NetBox).
from ...netbox.conftest import seeded  # noqa: F401
from ...netbox.no_etag_proxy import NoETagProxy
from .cases import CONFIGURATION_SET, ETAG, FROM, NETBOX_MODES, NO_ETAG, SECRET, AfterStep

__all__ = ["CONFIGURATION_SET", "FROM", "NETBOX_MODES", "NO_ETAG", "SECRET", "AfterStep"]

TABLE = RESOURCES.idempotency.name
NOTIFICATIONS = f"{PLUGIN}/prepared-notifications/"


class ManualClock:
    """Epoch seconds that only move when a test says so (leases and back-off are measured with it)."""

    def __init__(self) -> None:
        self.now = time.time()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class AtomicDynamoDB:
    """A DynamoDB client whose calls reach moto one at a time. DynamoDB applies each conditional write
    atomically; moto's threaded server checks the condition and writes without a lock, so two racing
    writers can both pass. Serialising the calls gives the tests DynamoDB's guarantee, not a weaker one."""

    _lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return locked


def sent_mails() -> list[Any]:
    """What moto's SES took, in order (moto keeps the raw bytes and the envelope)."""
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def parsed(raw: str | bytes) -> EmailMessage:
    message = message_from_bytes(raw.encode() if isinstance(raw, str) else raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def sent_notification_ids() -> list[int]:
    """The notification id of each mail SES took, read from the Message-ID outbound derives from it."""
    ids = []
    for mail in sent_mails():
        message_id = str(parsed(mail.raw_data)["Message-ID"])
        ids.append(int(message_id.split(".", 1)[0].removeprefix("<notification-")))
    return ids


def outbound_settings_for(server: RunningNetBox, **environ: str) -> OutboundSettings:
    return load_settings(
        Flow.OUTBOUND,
        {
            "NETBOX_URL": server.url,
            "NETBOX_API_TOKEN": server.tokens.admin,
            "IDEMPOTENCY_TABLE": TABLE,
            "SES_FROM_ADDRESS": FROM,
            "SES_CONFIGURATION_SET": CONFIGURATION_SET,
            "WEBHOOK_SECRET": SECRET,
            **environ,
        },
    )


@dataclass
class Outbound:
    """One test's world: NetBox with the demo seed, moto with SES and the claim table, and a clock."""

    server: RunningNetBox
    client: NetBoxClient
    notices: NoticesApi
    seeded: Seeded
    aws: AwsClients
    clock: ManualClock
    wire: list[dict[str, Any]] = field(default_factory=list)  # SendEmail requests as sent
    #: where the runs under test reach NetBox: NetBox itself, or a proxy that makes it behave as 4.5
    api_url: str = ""

    def __post_init__(self) -> None:
        self.api_url = self.api_url or self.server.url

    def deps(self, *, client: NetBoxClient | None = None, workers: int = 4, **environ: str) -> OutboundDeps:
        settings = outbound_settings_for(self.server, **environ)
        if client is None and self.api_url != self.server.url:
            client = NetBoxClient(self.api_url, self.server.tokens.admin, retry=RetryPolicy(deadline=10))
        return OutboundDeps(
            settings=settings,
            notices=NoticesApi(client or self.client),
            claims=self.claims(),
            sender=SesSender(self.aws.sesv2, limiter=SendRateLimiter(1000)),
            workers=workers,
        )

    def patient(self) -> NetBoxClient:
        """For bulk set-up and heavy races: NetBox's two web workers queue requests (slow, not failed)."""
        return NetBoxClient(
            self.api_url, self.server.tokens.admin, retry=RetryPolicy(deadline=120), timeout=120
        )

    def claims(self) -> ClaimTable:
        return ClaimTable(TABLE, AtomicDynamoDB(self.aws.dynamodb), clock=self.clock)  # type: ignore[arg-type]

    def contacts(self, count: int) -> list[int]:
        """`count` new contacts with emails, in one bulk POST."""
        body = [{"name": f"Customer {n:03}", "email": f"customer{n:03}@example.org"} for n in range(count)]
        return [int(item["id"]) for item in self.patient().post(CONTACTS, body)]

    def ready(
        self,
        count: int = 1,
        *,
        contact_ids: Sequence[int] | None = None,
        **fields: Any,
    ) -> list[int]:
        """`count` notifications created as drafts and approved (`draft → ready`), in two bulk requests."""
        assert self.seeded.template is not None
        contacts = list(contact_ids) if contact_ids is not None else list(self.seeded.contacts.values())
        body = [
            {
                "template_id": self.seeded.template,
                "subject": f"Planned maintenance {n}",
                "body_text": "Work on ZAYO-0001 from 02:00 to 04:00 UTC.",
                "contact_ids": contacts,
                **fields,
            }
            for n in range(count)
        ]
        setup = self.patient()
        created = setup.post(NOTIFICATIONS, body)
        ids = [int(item["id"]) for item in created]
        approved = [{"id": number, "status": str(NotificationStatus.READY)} for number in ids]
        setup.request("PATCH", NOTIFICATIONS, body=approved)
        return ids

    def status(self, notification_id: int) -> str:
        return self.notices.get_prepared_notification(notification_id).status

    def journal(self, notification_id: int) -> str:
        return "\n".join(entry.comments for entry in self.notices.journal_entries(notification_id))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ses_ready(aws: AwsClients) -> AwsClients:
    aws.sesv2.create_email_identity(EmailIdentity=FROM)
    aws.sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    create_idempotency_table(aws)
    return aws


# NETBOX_MODES (cases.py): here "no-etag" is the same NetBox behind `NoETagProxy`. Tests that take
# `netbox_mode` as an indirect parameter run in both.


@pytest.fixture
def netbox_mode(request: pytest.FixtureRequest) -> str:
    mode: str = getattr(request, "param", ETAG)
    return mode


@pytest.fixture
def outbound(
    clean_netbox: RunningNetBox,
    nb_client: NetBoxClient,
    seeded: Seeded,  # noqa: F811
    ses_ready: AwsClients,
    clock: ManualClock,
    netbox_mode: str,
) -> Iterator[Outbound]:
    proxy = NoETagProxy(int(clean_netbox.url.rsplit(":", 1)[1])) if netbox_mode == NO_ETAG else None
    world = Outbound(
        clean_netbox,
        nb_client,
        NoticesApi(nb_client),
        seeded,
        ses_ready,
        clock,
        api_url=proxy.url if proxy else clean_netbox.url,
    )
    ses_ready.sesv2.meta.events.register(
        "before-call.sesv2.SendEmail", lambda params, **_: world.wire.append(json.loads(params["body"]))
    )
    yield world
    if proxy is not None:
        proxy.close()
