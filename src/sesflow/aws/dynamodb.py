"""What every DynamoDB adapter here shares: telling a refused condition from any other error."""

from __future__ import annotations

from botocore.exceptions import ClientError


def is_conditional_failure(error: ClientError) -> bool:
    """The write's condition did not hold (someone else got there first), as opposed to a real failure."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
