"""SQS's own message move task, where the endpoint has one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class MoveTasksUnavailable(Exception):
    """The endpoint has no message move tasks (an older region, an emulator): `code` is what it answered."""

    def __init__(self, code: str) -> None:
        super().__init__(f"SQS message move tasks are not available here ({code})")
        self.code = code


def start_message_move(sqs: SQSClient, source_url: str) -> str:
    """Start moving a dead-letter queue's messages back to their source queue; returns the task's handle."""
    source_arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    try:
        task = sqs.start_message_move_task(SourceArn=source_arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        # An endpoint without move tasks answers 400/404/5xx. A permission problem is the operator's to fix.
        if "AccessDenied" in code or not (status in {400, 404} or status >= 500):
            raise
        raise MoveTasksUnavailable(code or str(status)) from error
    return task["TaskHandle"]
