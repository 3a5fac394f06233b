"""The incoming bucket (SES stores each mail under `incoming/`) and the attachments bucket (linked files)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3

from .context import RelayContext
from .description import INCOMING_PREFIX, QUARANTINE_PREFIX


class RelayBuckets:
    """`incoming` and `attachments`, both SSE-S3, private, TLS only and retained with the stack deleted."""

    def __init__(self, stack: Stack, prefix: str, settings: RelayContext) -> None:
        # The incoming bucket has a name known before it exists, so the queue policy can name it without a
        # cycle (bucket -> notification -> queue policy -> bucket ARN) and with no custom resource.
        self.incoming_name = Fn.join("-", [f"{prefix}-incoming", Aws.ACCOUNT_ID, Aws.REGION])
        self.incoming = s3.Bucket(
            stack,
            "IncomingBucket",
            bucket_name=self.incoming_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-incoming",
                    prefix=INCOMING_PREFIX,
                    expiration=Duration.days(settings.incoming_retention_days),
                ),
                s3.LifecycleRule(
                    id="expire-quarantine",
                    prefix=QUARANTINE_PREFIX,
                    expiration=Duration.days(settings.quarantine_retention_days),
                ),
                s3.LifecycleRule(
                    id="abort-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
        )
        self.attachments = s3.Bucket(
            stack,
            "AttachmentsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # pre-signed GETs need no KMS grant this way
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-after-links",
                    expiration=Duration.days(settings.link_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

    @property
    def incoming_arn(self) -> str:
        """The incoming bucket's ARN built from its name, not from the bucket: no reference, so no cycle."""
        return Fn.join("", [f"arn:{Aws.PARTITION}:s3:::", self.incoming_name])


def cfn_bucket(bucket: s3.Bucket) -> s3.CfnBucket:
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    return resource
