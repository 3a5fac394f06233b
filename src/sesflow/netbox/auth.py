"""The API token: its header form (v1 `Token …`, v2 `Bearer nbt_…`) and where it comes from."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sesflow.config import NetBoxSettings

V2_PREFIX = "nbt_"

#: Reads a secret's string by its ARN.
SecretReader = Callable[[str], str]


def authorization_header(token: str) -> str:
    """NetBox tells the token version by the `nbt_` prefix; v1 tokens go with the `Token` keyword."""
    token = token.strip()
    if token.startswith(V2_PREFIX):
        return f"Bearer {token}"
    return f"Token {token}"


class SecretsManagerClient(Protocol):
    def get_secret_value(self, *, SecretId: str) -> Mapping[str, object]: ...


def secrets_manager_reader(client: SecretsManagerClient | None = None) -> SecretReader:
    """A reader on the given Secrets Manager client, or on a boto3 client made when first needed."""

    def read(secret_arn: str) -> str:
        answer = (client or _boto3_secrets_client()).get_secret_value(SecretId=secret_arn)
        return str(answer["SecretString"])

    return read


class SecretToken:
    """The token from a Secrets Manager secret, read on first use and kept for the life of the container.

    The secret holds the bare token, or JSON with a `token` key."""

    def __init__(self, secret_arn: str, read: SecretReader) -> None:
        self._secret_arn = secret_arn
        self._read = read
        self._token: str | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None:
                text = self._read(self._secret_arn).strip()
                self._token = str(json.loads(text)["token"]) if text.startswith("{") else text
            return self._token


def token_source(settings: NetBoxSettings, read_secret: SecretReader | None = None) -> Callable[[], str]:
    """The token as a zero-argument callable: the plain setting, or the secret read once when first needed."""
    if settings.api_token:
        token = settings.api_token
        return lambda: token
    if settings.api_token_secret_arn:
        return SecretToken(settings.api_token_secret_arn, read_secret or secrets_manager_reader())
    raise ValueError("NetBox settings have neither NETBOX_API_TOKEN nor NETBOX_API_TOKEN_SECRET_ARN")


def _boto3_secrets_client() -> SecretsManagerClient:
    import boto3  # only when a secret is used: keeps this package light for Lambda cold starts

    client: SecretsManagerClient = boto3.client("secretsmanager")
    return client
