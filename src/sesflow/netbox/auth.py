"""The API token: its header form (v1 `Token …`, v2 `Bearer nbt_…`) and where it comes from."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from sesflow.netbox.errors import NetBoxTokenSecretError

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
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise NetBoxTokenSecretError(
                f"{secret_arn} has no SecretString (a binary secret cannot hold the token)"
            )
        return text

    return read


class SecretToken:
    """The token from a Secrets Manager secret, read on first use and kept for the life of the container.

    The secret holds the bare token (v1 or v2 `nbt_…`), or a JSON object with a `token` key: the form the
    console's key/value editor writes. A failed read is not kept, so the next request tries again."""

    def __init__(self, secret_arn: str, read: SecretReader) -> None:
        self._secret_arn = secret_arn
        self._read = read
        self._token: str | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = token_from_secret(self._read(self._secret_arn), self._secret_arn)
            return self._token


def token_from_secret(text: str, secret_arn: str) -> str:
    """The token in a secret's string: the whole (stripped) string, or the `token` key of a JSON object."""
    text = text.strip()
    if not text.startswith("{"):
        if not text:
            raise NetBoxTokenSecretError(f"{secret_arn} is empty")
        return text
    try:
        document = json.loads(text)
    except ValueError:
        # Not chained: the decoder's error keeps the secret's whole text (its `doc`) for anyone who logs it.
        raise NetBoxTokenSecretError(f"{secret_arn} starts with '{{' but is not JSON") from None
    token = document.get("token") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token.strip():
        keys = sorted(document) if isinstance(document, dict) else []
        raise NetBoxTokenSecretError(f"{secret_arn} is JSON without a string `token` key (keys: {keys})")
    return token.strip()


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
