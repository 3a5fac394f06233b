"""The relay wired to AWS, once per container: settings, clients, the signing key, and what is worth doing
before a SnapStart snapshot."""

from __future__ import annotations

import gc
from datetime import timedelta
from functools import cache

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from sesflow.aws.attempts import SendAttempts
from sesflow.aws.clients import AwsClients, default_clients, signing_clients
from sesflow.aws.ses import SesSender, account_send_rate
from sesflow.aws.sns import Publisher
from sesflow.aws.store import ObjectStore
from sesflow.config import RelaySettings, relay_settings
from sesflow.mail import parse_mail
from sesflow.relay.deps import RelayDeps
from sesflow.relay.links import LinkSigner
from sesflow.relay.recipients import find_recipients
from sesflow.relay.send import IDEMPOTENCY_SECONDS


def deps_from(settings: RelaySettings, clients: AwsClients, signing: AwsClients | None = None) -> RelayDeps:
    """Wire the pipeline to AWS; `signing` clients' credentials sign the links (default: `clients`)."""
    signing = signing or clients
    return RelayDeps(
        settings=settings,
        store=ObjectStore(clients.s3),
        signer=LinkSigner(
            ObjectStore(signing.s3),
            timedelta(seconds=settings.presigned_expiration),
            signing.session.get_credentials(),
        ),
        sender=SesSender(clients.sesv2, rate_source=lambda sesv2: account_send_rate(sesv2, clients.ses_v1)),
        publisher=Publisher(clients.sns),
        persistence=DynamoDBPersistenceLayer(
            table_name=settings.common.idempotency_table, boto3_client=clients.dynamodb
        ),
        attempts=relay_attempts(settings.common.idempotency_table, clients),
    )


def relay_attempts(table_name: str, clients: AwsClients) -> SendAttempts:
    return SendAttempts(table_name, clients.dynamodb, prefix="relay-asked", keep_seconds=IDEMPOTENCY_SECONDS)


@cache
def default_deps() -> RelayDeps:
    settings = relay_settings()
    deps = deps_from(settings, default_clients(), signing_clients(settings.presign_credentials_secret_arn))
    freeze_wiring()
    return deps


def freeze_wiring() -> None:
    """Call once the pipeline is wired: what is alive then (modules, clients, their service models) lives
    as long as the process, so the cycle collector stops scanning it. A full collection over boto3's
    models took about 45 ms in the middle of a mail."""
    gc.collect()
    gc.freeze()


#: A device's mail in miniature, for `warm`.
WARM_MAIL = (
    b"From: gw@plant.example.com\r\nTo: relay@ingest.example.com\r\nSubject: warm\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nEmail_Rxers_Code:[noc@example.com]:Email_Rxers_Code:\r\n"
)


def warm() -> None:
    """What a container's first mail loads and caches, done before a SnapStart snapshot (`sesflow.snapstart`):
    the MIME parser, the recipients' markers and their validation."""
    settings = relay_settings()
    find_recipients(
        parse_mail(WARM_MAIL), marker=settings.recipients_marker, max_recipients=settings.max_recipients
    )


def wire_without_secrets() -> None:
    """The wiring priming builds: the clients and the pipeline, signing with the function's own credentials;
    the signing key from Secrets Manager is read after the restore, so it never sits in a snapshot."""
    deps_from(relay_settings(), default_clients())
