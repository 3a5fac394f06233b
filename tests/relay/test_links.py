"""Links promise only what is true: their lifetime is capped by the credentials that sign them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.credentials import Credentials, RefreshableCredentials

from sesflow.aws.clients import AwsClients, signing_clients
from sesflow.aws.store import ObjectStore
from sesflow.config import Flow, load_settings
from sesflow.relay.links import EXPIRY_MARGIN, UNKNOWN_TEMPORARY_LIFETIME, LinkSigner, credential_lifetime

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY_AND_HALF = timedelta(hours=36)


def store() -> ObjectStore:
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )
    return ObjectStore(AwsClients(session).s3)


def expires_param(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])


@pytest.mark.unit
def test_long_lived_key_gets_the_full_lifetime() -> None:
    signer = LinkSigner(store(), DAY_AND_HALF, Credentials("AKID", "secret"), clock=lambda: NOW)
    link = signer.sign("att", "m/1-a.csv")
    assert not link.capped
    assert expires_param(link.url) == 129_600
    assert link.expires_at == NOW + DAY_AND_HALF


@pytest.mark.unit
def test_temporary_credentials_without_known_expiry_are_capped() -> None:
    signer = LinkSigner(
        store(), DAY_AND_HALF, Credentials("ASIA", "secret", token="session"), clock=lambda: NOW
    )
    link = signer.sign("att", "m/1-a.csv")
    assert link.capped
    assert expires_param(link.url) == int(UNKNOWN_TEMPORARY_LIFETIME.total_seconds())
    assert link.expires_at == NOW + UNKNOWN_TEMPORARY_LIFETIME


@pytest.mark.unit
def test_refreshable_credentials_cap_at_their_expiry_less_a_margin() -> None:
    expiry = NOW + timedelta(hours=5)
    credentials = RefreshableCredentials(
        "ASIA", "secret", "session", expiry, refresh_using=lambda: {}, method="assume-role"
    )
    assert credential_lifetime(credentials, NOW) == timedelta(hours=5) - EXPIRY_MARGIN
    link = LinkSigner(store(), DAY_AND_HALF, credentials, clock=lambda: NOW).sign("att", "k")
    assert link.capped and link.expires_at == expiry - EXPIRY_MARGIN


@pytest.mark.unit
def test_requested_lifetime_below_the_cap_is_kept() -> None:
    signer = LinkSigner(
        store(), timedelta(minutes=10), Credentials("ASIA", "s", token="t"), clock=lambda: NOW
    )
    link = signer.sign("att", "k")
    assert not link.capped and expires_param(link.url) == 600


@pytest.mark.integration
def test_signing_key_is_read_once_from_secrets_manager(aws: AwsClients) -> None:
    secrets = aws.session.client("secretsmanager", endpoint_url=aws.s3.meta.endpoint_url)
    arn = secrets.create_secret(
        Name="relay-signing-key",
        SecretString=json.dumps(
            {"aws_access_key_id": "AKIALONGLIVED", "aws_secret_access_key": "long-secret"}
        ),
    )["ARN"]
    settings = load_settings(
        Flow.RELAY,
        {
            "IDEMPOTENCY_TABLE": "sesflow-idempotency",
            "INCOMING_BUCKET": "in-bucket",
            "ATTACHMENTS_BUCKET": "att-bucket",
            "SENDER_EMAIL": "relay@ingest.example.com",
            "SNS_TOPIC": "arn:aws:sns:us-east-1:123456789012:fallback",
            "PRESIGN_CREDENTIALS_SECRET_ARN": arn,
        },
    )
    signing = signing_clients(settings.presign_credentials_secret_arn)
    assert signing is not None
    credentials = signing.session.get_credentials()
    assert credentials is not None and credentials.access_key == "AKIALONGLIVED" and not credentials.token
    url = ObjectStore(signing.s3).presign_get("att-bucket", "m/1-a.csv", 129_600)
    assert "AKIALONGLIVED" in url and expires_param(url) == 129_600
    # A second cold-start-scoped read is served from the cache: the secret is not fetched again.
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    again = signing_clients(settings.presign_credentials_secret_arn)
    assert again is not None and again.session.get_credentials().access_key == "AKIALONGLIVED"  # type: ignore[union-attr]
