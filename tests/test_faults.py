"""The kill hook (`sesflow.faults`): silent unless the environment names a step; seeded, counted, thread-safe;
and the relay, killed after each of its named steps, still sends every chunk exactly once when SQS hands the
message back."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from sesflow import faults
from sesflow.local.http_api import HttpApi, Route
from sesflow.local.workers import Schedule
from sesflow.relay.distribute import Relayed, process_message
from sesflow.resources import RESOURCES

from .relay.builders import device_mail
from .relay.cases import RELAY_STEPS
from .relay.conftest import RelayWorld, world  # noqa: F401 - the relay on real local servers


@pytest.fixture(autouse=True)
def fresh_plan(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (faults.KILL_AT, faults.KILL_RATE, faults.KILL_SEED):
        monkeypatch.delenv(name, raising=False)
    faults.reset()
    yield
    faults.reset()


def kill_at(monkeypatch: pytest.MonkeyPatch, points: str, rate: float | None = None, seed: int = 0) -> None:
    monkeypatch.setenv(faults.KILL_AT, points)
    if rate is not None:
        monkeypatch.setenv(faults.KILL_RATE, str(rate))
    monkeypatch.setenv(faults.KILL_SEED, str(seed))
    faults.reset()


def passes(flow: str, step: str) -> bool:
    try:
        faults.checkpoint(flow, step)
    except faults.Killed:
        return False
    return True


@pytest.mark.unit
def test_nothing_happens_when_no_step_is_named() -> None:
    assert all(passes("relay", step) for step in ("load", "send", "report"))
    assert faults.current_plan() is None
    assert faults.kills() == {}


@pytest.mark.unit
def test_a_named_step_raises_system_exit_and_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    kill_at(monkeypatch, "relay.send, inbound.write_maintenance")
    with pytest.raises(SystemExit, match=r"killed at relay\.send"):
        faults.checkpoint("relay", "send")
    assert passes("relay", "load")
    assert passes("inbound", "plan")
    assert not passes("inbound", "write_maintenance")
    assert faults.kills() == {"relay.send": 1, "inbound.write_maintenance": 1}


@pytest.mark.unit
def test_a_kill_is_not_caught_by_except_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    kill_at(monkeypatch, "tracking.apply")
    with pytest.raises(faults.Killed):
        try:
            faults.checkpoint("tracking", "apply")
        except Exception:  # noqa: BLE001 - what a flow's own handling looks like
            pytest.fail("a kill must not be an Exception")


@pytest.mark.unit
def test_flow_star_names_every_step_of_that_flow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    kill_at(monkeypatch, "inbound.*")
    assert not passes("inbound", "load")
    assert not passes("inbound", "store_mail")
    assert passes("relay", "load")


@pytest.mark.unit
def test_the_rate_and_seed_make_the_draws_repeatable(monkeypatch: pytest.MonkeyPatch) -> None:
    def draws(seed: int) -> list[bool]:
        kill_at(monkeypatch, "relay.send", rate=0.3, seed=seed)
        return [passes("relay", "send") for _ in range(400)]

    first, again, other = draws(7), draws(7), draws(8)
    assert first == again
    assert first != other
    assert 80 <= first.count(False) <= 160  # about 30 % of 400
    assert faults.kills()["relay.send"] == other.count(False)


@pytest.mark.unit
def test_rate_zero_never_kills_and_a_bad_rate_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    kill_at(monkeypatch, "relay.send", rate=0.0)
    assert all(passes("relay", "send") for _ in range(100))
    kill_at(monkeypatch, "relay.send", rate=1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        faults.checkpoint("relay", "send")


@pytest.mark.unit
def test_the_environment_is_read_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    assert passes("relay", "send")  # read now: no plan
    monkeypatch.setenv(faults.KILL_AT, "relay.send")
    assert passes("relay", "send")  # still the plan read first
    faults.reset()
    assert not passes("relay", "send")
    monkeypatch.delenv(faults.KILL_AT)
    faults.reset()
    assert passes("relay", "send") and faults.kills() == {}


@pytest.mark.unit
def test_counts_are_exact_when_threads_race(monkeypatch: pytest.MonkeyPatch) -> None:
    kill_at(monkeypatch, "outbound.send", rate=0.5, seed=3)
    killed = [0] * 8

    def run(slot: int) -> None:
        for _ in range(500):
            if not passes("outbound", "send"):
                killed[slot] += 1

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    plan = faults.current_plan()
    assert plan is not None
    assert faults.kills()["outbound.send"] == sum(killed)
    assert plan.kills["outbound.send"] + plan.passes["outbound.send"] == 8 * 500


# --- the local stack's Lambda stand-ins survive a kill, as Lambda does --------------------------------


def killed_first(calls: list[str]) -> Any:
    """A handler whose first run dies at a kill point and whose later runs succeed."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append("run")
        if len(calls) == 1:
            faults.checkpoint("outbound", "claim")
        return {"statusCode": 200, "body": "{}"}

    return handler


@pytest.mark.unit
def test_a_killed_scheduled_run_does_not_stop_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    kill_at(monkeypatch, "outbound.claim")
    calls: list[str] = []
    schedule = Schedule(RESOURCES.notices.outbound, killed_first(calls), interval_seconds=0.05)
    schedule.start()
    try:
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        schedule.stop()
    assert len(calls) >= 3
    assert schedule.counters.crashed == 1 and schedule.counters.succeeded >= 2


@pytest.mark.unit
def test_a_killed_api_handler_answers_502_and_the_next_request_is_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kill_at(monkeypatch, "outbound.claim")
    calls: list[str] = []
    api = HttpApi()
    api.add_route(Route("POST", "/hook", killed_first(calls)))
    api.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as first:
            urllib.request.urlopen(urllib.request.Request(api.url + "/hook", data=b"{}"), timeout=5)
        assert first.value.code == 502
        with urllib.request.urlopen(urllib.request.Request(api.url + "/hook", data=b"{}"), timeout=5) as ok:
            assert ok.status == 200
    finally:
        api.stop()
    assert len(calls) == 2


# --- the relay, killed after each named step ------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("step", RELAY_STEPS)
def test_relay_killed_after_a_step_sends_each_chunk_once_on_redelivery(
    world: RelayWorld,  # noqa: F811
    step: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recipients = ", ".join(f"user{n}@plant.example.com" for n in range(60))  # two chunks
    body = world.s3_event(world.put_mail(device_mail(recipients)))
    kill_at(monkeypatch, f"relay.{step}")
    with pytest.raises(faults.Killed):
        process_message(body, world.deps)
    assert faults.kills() == {f"relay.{step}": 1}
    monkeypatch.delenv(faults.KILL_AT)
    faults.reset()
    [outcome] = process_message(body, world.deps)  # SQS hands the message back
    assert isinstance(outcome, Relayed)
    sends = world.sent()
    assert sorted(len(send.destinations) for send in sends) == [10, 50]
    assert len({address for send in sends for address in send.destinations}) == 60


@pytest.mark.integration
def test_relay_killed_between_ses_answer_and_record_does_not_send_twice(
    world: RelayWorld,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sesflow.local.lambda_context import LocalLambdaContext
    from sesflow.relay.distribute import process_batch
    from sesflow.relay.send import STOPPED_AFTER_ASKING

    body = world.s3_event(world.put_mail(device_mail("ops@plant.example.com")))
    kill_at(monkeypatch, "relay.ses_accepted")
    with pytest.raises(faults.Killed):
        process_batch(world.sqs_event(body), LocalLambdaContext.start("relay", 1), world.deps)
    monkeypatch.delenv(faults.KILL_AT)
    faults.reset()
    time.sleep(1.5)  # the killed invocation's time is up; SQS hands the message back
    answer = process_batch(world.sqs_event(body), LocalLambdaContext.start("relay", 30), world.deps)
    assert answer["batchItemFailures"] == []
    assert len(world.sent()) == 1
    [notice] = world.fallback_notices()
    assert notice["reason"] == "ses_answer_lost"
    assert STOPPED_AFTER_ASKING in notice["detail"]
    assert sorted(notice["addresses"]) == sorted(world.sent()[0].destinations)


@pytest.mark.integration
def test_relay_chunk_ses_refused_is_sent_by_the_retry(
    world: RelayWorld,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chunk SES answered it did not take (throttled past the sender's attempts) leaves no mark: the
    redelivery sends it, once, with no fallback notice."""
    from sesflow.aws.ses import TransientSendError

    body = world.s3_event(world.put_mail(device_mail("ops@plant.example.com")))
    real_send = world.deps.sender.send_raw
    refusals = [TransientSendError("SES Throttling: Maximum sending rate exceeded.", code="Throttling")]

    def throttled_once(raw: bytes, **kwargs: Any) -> Any:
        if refusals:
            raise refusals.pop()
        return real_send(raw, **kwargs)

    monkeypatch.setattr(world.deps.sender, "send_raw", throttled_once)
    with pytest.raises(TransientSendError):
        process_message(body, world.deps)
    assert world.sent() == []
    [outcome] = process_message(body, world.deps)  # SQS hands the message back
    assert isinstance(outcome, Relayed)
    assert len(world.sent()) == 1
    assert world.fallback_notices() == []
