"""The idempotency store under Powertools' `idempotent_function`: what `DynamoDBPersistenceLayer` does on
moto's DynamoDB, and what `FakeIdempotencyStore` must do the same way. Pinned: a finished call's answer is
replayed; a call that raised leaves no record; a call stopped dead stays in progress until its Lambda's time
is up, then runs again; an expired record is replaced."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from sesflow.local.aws_setup import create_idempotency_table
from sesflow.local.lambda_context import LocalLambdaContext
from sesflow.resources import RESOURCES

from ..fakes.idempotency import FakeIdempotencyStore, OffsetClock


class Stopped(BaseException):
    """A run that dies as a killed Lambda does: no `except Exception` sees it."""


@dataclass
class Store:
    layer: BasePersistenceLayer
    advance: Callable[[float], None]
    calls: list[str] = field(default_factory=list)

    def once(
        self, config: IdempotencyConfig, outcome: Callable[[], Any] = lambda: None
    ) -> Callable[..., Any]:
        def work(job: dict[str, str]) -> dict[str, str]:
            self.calls.append(job["id"])
            outcome()
            return {"done": job["id"], "call": str(len(self.calls))}

        return idempotent_function(  # type: ignore[no-any-return]
            work,
            data_keyword_argument="job",
            persistence_store=self.layer,
            config=config,
            key_prefix="contract",
        )


@pytest.fixture(
    params=[pytest.param("real", marks=pytest.mark.integration), pytest.param("fake", marks=pytest.mark.unit)]
)
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "real":
        aws = request.getfixturevalue("aws")
        create_idempotency_table(aws)
        layer = DynamoDBPersistenceLayer(table_name=RESOURCES.idempotency.name, boto3_client=aws.dynamodb)
        return Store(layer, time.sleep)
    clock = OffsetClock()
    return Store(FakeIdempotencyStore(clock), clock.advance)


def config(expires_after_seconds: int = 3600) -> IdempotencyConfig:
    return IdempotencyConfig(expires_after_seconds=expires_after_seconds, raise_on_no_idempotency_key=True)


def test_a_finished_call_is_replayed_not_run_again(store: Store) -> None:
    once = store.once(config())
    first = once(job={"id": "a"})
    assert once(job={"id": "a"}) == first == {"done": "a", "call": "1"}
    assert once(job={"id": "b"}) == {"done": "b", "call": "2"}
    assert store.calls == ["a", "b"]


def test_a_call_that_raised_leaves_no_record(store: Store) -> None:
    failures = [RuntimeError("SES said no")]

    def fail_once() -> None:
        if failures:
            raise failures.pop()

    once = store.once(config(), fail_once)
    with pytest.raises(RuntimeError, match="SES said no"):
        once(job={"id": "a"})
    assert once(job={"id": "a"}) == {"done": "a", "call": "2"}


def test_a_stopped_call_without_a_lambda_context_stays_in_progress(store: Store) -> None:
    stops = [Stopped()]

    def stop_once() -> None:
        if stops:
            raise stops.pop()

    once = store.once(config(), stop_once)
    with pytest.raises(Stopped):
        once(job={"id": "a"})
    with pytest.raises(IdempotencyAlreadyInProgressError):
        once(job={"id": "a"})
    assert store.calls == ["a"]


def test_a_stopped_call_runs_again_once_its_lambda_time_is_up(store: Store) -> None:
    stops = [Stopped()]

    def stop_once() -> None:
        if stops:
            raise stops.pop()

    stopped = config()
    stopped.register_lambda_context(LocalLambdaContext.start("contract", 0.2))  # type: ignore[arg-type]
    with pytest.raises(Stopped):
        store.once(stopped, stop_once)(job={"id": "a"})
    with pytest.raises(IdempotencyAlreadyInProgressError):  # its invocation may still be running
        store.once(config())(job={"id": "a"})
    store.advance(0.5)
    assert store.once(config())(job={"id": "a"}) == {"done": "a", "call": "2"}


def test_an_expired_record_is_replaced(store: Store) -> None:
    once = store.once(config(expires_after_seconds=-5))
    once(job={"id": "a"})
    assert once(job={"id": "a"}) == {"done": "a", "call": "2"}
