"""Step 6, sign links: SigV4 GET links whose promised expiry is true.

A pre-signed URL dies with the credentials that signed it, whatever its `X-Amz-Expires` says. A Lambda
role's credentials are temporary, so either a long-lived key signs (PRESIGN_CREDENTIALS_SECRET_ARN), or
the lifetime is capped at what the signing credentials allow and the mail states that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

#: Temporary credentials with no known expiry (a Lambda role's, given through the environment) are
#: trusted for this long: AWS refreshes them well before, but does not say when.
UNKNOWN_TEMPORARY_LIFETIME = timedelta(hours=1)
#: Links are cut this much short of the credentials' expiry, so a link never outlives its signer.
EXPIRY_MARGIN = timedelta(minutes=5)


class Clock(Protocol):
    def __call__(self) -> datetime: ...


class SigningCredentials(Protocol):
    """botocore's credentials, as far as their lifetime goes (a refreshable one also has `_expiry_time`)."""

    @property
    def token(self) -> str | None: ...


class Presigner(Protocol):
    """Makes SigV4 GET links (`sesflow.aws.store.ObjectStore`)."""

    def presign_get(
        self, bucket: str, key: str, expires_in: int | timedelta, *, download_name: str | None = None
    ) -> str: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SignedLink:
    url: str
    expires_at: datetime
    capped: bool


def credential_lifetime(credentials: SigningCredentials | None, now: datetime) -> timedelta | None:
    """How long links signed with these credentials can live; None when they do not expire."""
    if credentials is None:
        return None
    expiry: datetime | None = getattr(credentials, "_expiry_time", None)
    if expiry is not None:
        return max(timedelta(0), expiry - now - EXPIRY_MARGIN)
    if credentials.token:
        return UNKNOWN_TEMPORARY_LIFETIME
    return None


@dataclass
class LinkSigner:
    """Signs GET links with a requested lifetime, capped by what the signing credentials allow."""

    store: Presigner
    requested: timedelta
    credentials: SigningCredentials | None
    clock: Clock = utc_now

    def sign(self, bucket: str, key: str, *, download_name: str | None = None) -> SignedLink:
        now = self.clock()
        allowed = credential_lifetime(self.credentials, now)
        lifetime = self.requested if allowed is None else min(self.requested, allowed)
        seconds = max(1, int(lifetime.total_seconds()))
        url = self.store.presign_get(bucket, key, seconds, download_name=download_name)
        return SignedLink(url, now + timedelta(seconds=seconds), capped=lifetime < self.requested)
