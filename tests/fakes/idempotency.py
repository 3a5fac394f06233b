"""An in-memory Powertools idempotency store (`DynamoDBPersistenceLayer`'s behaviour over a dict): a record is
put only when its key is new, expired, or in progress past its Lambda's remaining time; an update overwrites;
a delete removes. tests/contracts/test_idempotency_store.py holds it to the real layer on moto's DynamoDB."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord


@dataclass
class OffsetClock:
    """Wall-clock seconds moved on by `advance`: Powertools reads the real clock for the expiries it writes,
    so a fake clock that only ever runs ahead of it keeps the store's conditions true to DynamoDB's."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class FakeIdempotencyStore(BasePersistenceLayer):
    """Records by idempotency key. `clock` gives epoch seconds: the conditions DynamoDB checks against its
    `now` are checked against it, so a test moves time on instead of sleeping."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.clock = clock
        self.records: dict[str, DataRecord] = {}
        self._lock = threading.Lock()

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._lock:
            found = self.records.get(idempotency_key)
        if found is None:
            raise IdempotencyItemNotFoundError
        return copy.copy(found)

    def _put_record(self, data_record: DataRecord) -> None:
        now = self.clock()
        with self._lock:
            old = self.records.get(data_record.idempotency_key)
            if old is not None and not _replaceable(old, now):
                raise IdempotencyItemAlreadyExistsError(old_data_record=copy.copy(old))
            self.records[data_record.idempotency_key] = copy.copy(data_record)

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self.records[data_record.idempotency_key] = copy.copy(data_record)

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self.records.pop(data_record.idempotency_key, None)


def _replaceable(old: DataRecord, now: float) -> bool:
    """DynamoDBPersistenceLayer's put condition: `#expiry < :now OR (#status = INPROGRESS AND
    attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)`."""
    if old.expiry_timestamp is not None and old.expiry_timestamp < int(now):
        return True
    return (
        old.status == STATUS_CONSTANTS["INPROGRESS"]
        and old.in_progress_expiry_timestamp is not None
        and old.in_progress_expiry_timestamp < int(now * 1000)
    )
