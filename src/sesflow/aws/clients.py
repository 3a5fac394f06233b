"""One boto3 client per service, created on first use.

Endpoints come from boto3 itself (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, ...): the local
stack only sets the environment. S3 always signs with SigV4: boto3 defaults links to SigV2.
"""

from __future__ import annotations

from functools import cache, cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

    from sesflow.aws.ses import SendQuotaReader

#: Adaptive mode adds client-side rate limiting on throttling errors to the standard retries.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5})


class AwsClients:
    """Clients made on first use from one boto3 session: a cold start pays only for what it uses."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        endpoint_url: str | None = None,
        config: Config | None = None,
    ) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._config = RETRY_CONFIG if config is None else RETRY_CONFIG.merge(config)

    @cached_property
    def session(self) -> boto3.Session:
        return self._session or boto3.Session()

    @cached_property
    def s3(self) -> S3Client:
        config = self._config.merge(Config(signature_version="s3v4"))
        return self.session.client("s3", endpoint_url=self._endpoint_url, config=config)

    @cached_property
    def sesv2(self) -> SESV2Client:
        # No botocore retries: a retried SendEmail whose answer was lost sends the mail twice. SesSender
        # retries itself, and only what SES surely did not take.
        config = self._config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
        return self.session.client("sesv2", endpoint_url=self._endpoint_url, config=config)

    @cached_property
    def ses_v1(self) -> SendQuotaReader:
        """SES v1, only to read the send quota where SES v2's GetAccount is not offered."""
        client: SendQuotaReader = self.session.client(
            "ses", endpoint_url=self._endpoint_url, config=self._config
        )
        return client

    @cached_property
    def sns(self) -> SNSClient:
        return self.session.client("sns", endpoint_url=self._endpoint_url, config=self._config)

    @cached_property
    def sqs(self) -> SQSClient:
        return self.session.client("sqs", endpoint_url=self._endpoint_url, config=self._config)

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self.session.client("dynamodb", endpoint_url=self._endpoint_url, config=self._config)

    def close_connections(self) -> None:
        """Close the open connections of the clients made so far; each opens new ones when next used. After
        a SnapStart restore a connection from before the snapshot is stale, while the clients (and the
        service models they loaded) are worth keeping."""
        for name in ("s3", "sesv2", "ses_v1", "sns", "sqs", "dynamodb"):
            client = self.__dict__.get(name)  # what cached_property stored: only clients already made
            if client is not None:
                client.close()


@cache
def default_clients() -> AwsClients:
    """The process-wide clients a Lambda handler uses; created at the first call."""
    return AwsClients()


def signing_clients(secret_arn: str | None) -> AwsClients | None:
    """Clients on a long-lived key kept in Secrets Manager (JSON with `aws_access_key_id` and
    `aws_secret_access_key`), read once an hour at most; None when there is no such secret. Links signed
    with temporary credentials die with them, whatever lifetime they promise."""
    if secret_arn is None:
        return None
    from aws_lambda_powertools.utilities import parameters  # only a deployment with a signing key needs it

    secret = parameters.get_secret(secret_arn, transform="json", max_age=3600)
    session = boto3.Session(
        aws_access_key_id=secret["aws_access_key_id"],
        aws_secret_access_key=secret["aws_secret_access_key"],
    )
    return AwsClients(session)
