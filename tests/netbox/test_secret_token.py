"""The API token from a Secrets Manager secret (moto's server): read once per container, in either form the
secret may hold, and accepted by the real NetBox.

Supported forms: the bare token, or a JSON object whose `token` key holds it (what the console's key/value
editor writes). Anything else is a NetBoxTokenSecretError that names the form, never the value."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sesflow.aws.clients import AwsClients
from sesflow.config import Flow, NetBoxSettings, load_settings
from sesflow.local.moto_server import MotoServer
from sesflow.local.netbox import RunningNetBox
from sesflow.netbox.auth import SecretToken, secrets_manager_reader, token_source
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxTokenSecretError
from sesflow.netbox.retry import RetryPolicy

GET_SECRET_VALUE = "before-call.secrets-manager.GetSecretValue"
REQUESTS = 20
V2_TOKEN = "nbt_abcdefghijkl.secret0secret0secret0secret0secret0secre"


class SecretsManager:
    """A Secrets Manager client on moto, counting the GetSecretValue calls of every client of its session."""

    def __init__(self, session: boto3.Session, endpoint_url: str) -> None:
        self.reads = 0
        # Registered on the session, so clients made from it later (boto3's default one) count too.
        session.events.register(GET_SECRET_VALUE, self._count)
        self.client: Any = session.client("secretsmanager", endpoint_url=endpoint_url)

    def _count(self, **_: object) -> None:
        self.reads += 1

    def create(self, name: str, value: str) -> str:
        arn: str = self.client.create_secret(Name=name, SecretString=value)["ARN"]
        return arn


@pytest.fixture
def secrets(aws: AwsClients, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> SecretsManager:
    """Counting Secrets Manager on a fresh moto; it is also boto3's default session, the one the runtime's
    `secrets_manager_reader()` uses when given no client."""
    session = boto3.Session()
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    return SecretsManager(session, moto_server.endpoint_url)


def _settings(secret_arn: str, url: str = "http://127.0.0.1:9") -> NetBoxSettings:
    """Settings as a flow loads them from its environment, with the secret's ARN and no plain token."""
    environ = {"NETBOX_URL": url, "NETBOX_API_TOKEN_SECRET_ARN": secret_arn, "IDEMPOTENCY_TABLE": "idem"}
    return load_settings(Flow.TRACKING, environ).netbox


def _many_times(call: Callable[[], str], count: int = REQUESTS) -> set[str]:
    """`call`'s results from several threads at once, as a Lambda's threads or a warm container's requests."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return set(pool.map(lambda _: call(), range(count)))


@pytest.mark.integration
@pytest.mark.parametrize(
    ("stored", "token"),
    [
        (V2_TOKEN, V2_TOKEN),
        ("  0123456789abcdef0123456789abcdef01234567\n", "0123456789abcdef0123456789abcdef01234567"),
        (json.dumps({"token": "nbt_abcdefghijkl.json", "note": "rotated 2031"}), "nbt_abcdefghijkl.json"),
    ],
    ids=["plain-v2", "plain-v1-with-whitespace", "json-token-key"],
)
def test_the_token_is_read_from_the_secret_once(secrets: SecretsManager, stored: str, token: str) -> None:
    source = token_source(_settings(secrets.create("netbox-token", stored)))
    assert secrets.reads == 0  # nothing is read before the first request needs it
    assert _many_times(source) == {token}
    assert secrets.reads == 1


@pytest.mark.integration
@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        (json.dumps({"api_token": "nbt_hidden.value"}), "without a string `token` key (keys: ['api_token'])"),
        ('{"token": "nbt_hidden.value"', "is not JSON"),
        (json.dumps({"token": ""}), "without a string `token` key"),
        ("   ", "is empty"),
    ],
    ids=["wrong-key", "broken-json", "empty-token", "blank"],
)
def test_a_secret_of_another_form_is_refused_without_showing_its_value(
    secrets: SecretsManager, stored: str, problem: str
) -> None:
    arn = secrets.create("netbox-token", stored)
    with pytest.raises(NetBoxTokenSecretError) as refused:
        SecretToken(arn, secrets_manager_reader(secrets.client))()
    assert problem in str(refused.value)
    assert arn in str(refused.value)
    assert "hidden" not in str(refused.value)
    assert refused.value.__cause__ is None


@pytest.mark.integration
def test_a_binary_secret_is_refused(secrets: SecretsManager) -> None:
    arn = secrets.client.create_secret(Name="netbox-token", SecretBinary=b"nbt_x.y")["ARN"]
    with pytest.raises(NetBoxTokenSecretError, match="no SecretString"):
        SecretToken(arn, secrets_manager_reader(secrets.client))()


@pytest.mark.integration
def test_a_failed_read_is_not_kept(secrets: SecretsManager) -> None:
    """A secret missing at first (deployed before it was filled in) works once it exists, no restart."""
    source = SecretToken("netbox-token", secrets_manager_reader(secrets.client))
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        source()
    secrets.create("netbox-token", "nbt_abcdefghijkl.later")
    assert source() == "nbt_abcdefghijkl.later"
    assert source() == "nbt_abcdefghijkl.later"
    assert secrets.reads == 2


@pytest.mark.netbox
@pytest.mark.integration
@pytest.mark.parametrize("form", ["plain-v2", "plain-v1", "json-v2"])
def test_a_client_with_only_the_secret_arn_authenticates_against_netbox(
    clean_netbox: RunningNetBox, secrets: SecretsManager, form: str
) -> None:
    tokens = clean_netbox.tokens
    stored = {
        "plain-v2": tokens.admin,
        "plain-v1": tokens.admin_v1,
        "json-v2": json.dumps({"token": tokens.admin}),
    }[form]
    settings = _settings(secrets.create("netbox-admin-token", stored), clean_netbox.url)
    assert settings.api_token is None
    # No reader passed: the runtime's own path, boto3's default client on the environment's endpoint (moto).
    client = NetBoxClient.from_settings(settings, retry=RetryPolicy(deadline=10))

    users = _many_times(lambda: str(client.get("/api/authentication-check/")["username"]))

    assert users == {"admin"}  # the v1 token went as `Token …`, the v2 one as `Bearer nbt_…`
    assert secrets.reads == 1
