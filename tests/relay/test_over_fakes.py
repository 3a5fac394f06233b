"""The relay's hardest cases over the in-memory fakes, in seconds: each chunk exactly once through SQS
redeliveries, a run stopped after each step and milestone, answers lost from SES, and the hostile table's
decisions. Each test mirrors a real-server one (tests/test_faults.py, tests/relay/test_distribute.py,
tests/relay/test_hostile_relay.py) with the same assertions; time moves on by the clock, never by sleeping."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from sesflow.aws.ses import TransientSendError
from sesflow.local.lambda_context import LocalLambdaContext
from sesflow.pipeline import StopAfter, StopRun, extra_hooks
from sesflow.relay.distribute import Refused, Relayed, process_batch, process_message
from sesflow.relay.send import STOPPED_AFTER_ASKING

from .builders import device_mail
from .cases import HUNDRED_TWENTY_RECIPIENTS, RELAY_STEPS, SIXTY_RECIPIENTS
from .fake_world import ATTACHMENTS, INCOMING, FakeRelayWorld, fake_world, sent_message
from .hostile import TABLE, Hostile, assert_no_traversal, check_notice

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> FakeRelayWorld:
    return fake_world()


def stopped_after(step: str, body: str, world: FakeRelayWorld) -> None:
    """A run of the message that dies once `step` is done, as a killed worker would."""
    stop = StopAfter(step)
    with extra_hooks(stop), pytest.raises(StopRun, match=rf"^relay\.{step}$"):
        process_message(body, world.deps)
    assert stop.seen == 1


# --- redeliveries and runs stopped between steps -----------------------------------------------------------


def test_redelivered_message_is_not_sent_twice(world: FakeRelayWorld) -> None:
    body = world.s3_event(world.put_mail(device_mail(SIXTY_RECIPIENTS)))
    first = process_message(body, world.deps)
    second = process_message(body, world.deps)
    assert len(world.sent()) == 2
    assert isinstance(first[0], Relayed) and isinstance(second[0], Relayed)
    assert [c.message_id for c in first[0].chunks] == [c.message_id for c in second[0].chunks]


@pytest.mark.parametrize("step", RELAY_STEPS)
def test_relay_stopped_after_a_step_sends_each_chunk_once_on_redelivery(
    world: FakeRelayWorld, step: str
) -> None:
    body = world.s3_event(world.put_mail(device_mail(SIXTY_RECIPIENTS)))
    stopped_after(step, body, world)
    [outcome] = process_message(body, world.deps)  # SQS hands the message back
    assert isinstance(outcome, Relayed)
    sends = world.sent()
    assert sorted(len(send.recipients) for send in sends) == [10, 50]
    assert len({address for send in sends for address in send.recipients}) == 60
    assert world.fallback_notices() == []


@pytest.mark.parametrize("recipients", ["ops@plant.example.com", SIXTY_RECIPIENTS], ids=["one", "sixty"])
def test_relay_stopped_between_ses_answer_and_record_does_not_send_twice(
    world: FakeRelayWorld, recipients: str
) -> None:
    """SES took the first chunk and the run died before its record was written: once the killed invocation's
    time is up, the redelivery announces that chunk instead of sending it again, and sends the rest."""
    body = world.s3_event(world.put_mail(device_mail(recipients)))
    stop = StopAfter("ses_accepted")
    with extra_hooks(stop), pytest.raises(StopRun):
        process_batch(world.sqs_event(body), LocalLambdaContext.start("relay", 1), world.deps)  # type: ignore[arg-type]
    world.clock.advance(1.5)  # the killed invocation's time is up; SQS hands the message back
    answer = process_batch(world.sqs_event(body), LocalLambdaContext.start("relay", 30), world.deps)  # type: ignore[arg-type]
    assert answer["batchItemFailures"] == []
    sends = world.sent()
    everyone = [address for send in sends for address in send.recipients]
    assert sorted(everyone) == sorted(address.strip() for address in recipients.split(","))
    [notice] = world.fallback_notices()
    assert notice["reason"] == "ses_answer_lost"
    assert STOPPED_AFTER_ASKING in notice["detail"]
    assert notice["addresses_total"] == len(sends[0].recipients)
    assert notice["addresses"] == list(
        sends[0].recipients[: len(notice["addresses"])]
    )  # the first few listed


def test_crash_after_chunk_one_of_three_sends_each_chunk_once(world: FakeRelayWorld) -> None:
    body = world.s3_event(world.put_mail(device_mail(HUNDRED_TWENTY_RECIPIENTS)))
    stopped_after("chunk_recorded", body, world)  # the worker dies once chunk 1 is recorded
    assert len(world.sent()) == 1
    [outcome] = process_message(body, world.deps)
    assert isinstance(outcome, Relayed)
    sends = world.sent()
    assert [len(send.recipients) for send in sends] == [50, 50, 20]
    assert len({address for send in sends for address in send.recipients}) == 120
    assert world.fallback_notices() == []


# --- what SES answers, or does not ----------------------------------------------------------------------


def crash_after(world: FakeRelayWorld, allowed: list[int]) -> None:
    """Lets `allowed[0]` sends through, then fails every later one inside the SES call, as a killed worker
    would: not an answer from SES, so it cannot tell whether SES took the chunk."""
    send_raw = world.sender.send_raw
    calls = [0]

    def crashing(raw: bytes, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] > allowed[0]:
            raise RuntimeError("worker killed")
        return send_raw(raw, **kwargs)

    world.sender.send_raw = crashing  # type: ignore[method-assign]


def test_an_error_inside_the_ses_call_leaves_the_chunk_unsent_again_and_announced(
    world: FakeRelayWorld,
) -> None:
    body = world.s3_event(world.put_mail(device_mail(HUNDRED_TWENTY_RECIPIENTS)))
    allowed = [1]
    crash_after(world, allowed)
    with pytest.raises(RuntimeError, match="worker killed"):
        process_message(body, world.deps)
    allowed[0] = 10**6
    [outcome] = process_message(body, world.deps)
    assert isinstance(outcome, Relayed)
    assert [len(send.recipients) for send in world.sent()] == [50, 20]
    assert [chunk.number for chunk in outcome.chunks if chunk.uncertain] == [2]
    [notice] = world.fallback_notices()
    assert notice["reason"] == "ses_answer_lost" and notice["addresses_total"] == 50


def test_each_chunk_with_a_lost_answer_is_announced_with_its_own_recipients(world: FakeRelayWorld) -> None:
    """SES took the first two chunks but its answers were lost: neither is sent again, by the run or by a
    redelivery, and each is announced once with its own recipients."""
    body = world.s3_event(world.put_mail(device_mail(HUNDRED_TWENTY_RECIPIENTS)))
    world.sender.lose_answers(times=2)
    [outcome] = process_message(body, world.deps)
    [outcome_again] = process_message(body, world.deps)  # a redelivery announces nothing more
    assert isinstance(outcome, Relayed) and outcome_again == outcome
    assert [len(send.recipients) for send in world.sent()] == [50, 50, 20]  # each recipient once
    notices = sorted(world.fallback_notices(), key=lambda notice: int(notice["chunk"]))
    assert [(notice["reason"], notice["chunk"]) for notice in notices] == [
        ("ses_answer_lost", 1),
        ("ses_answer_lost", 2),
    ]
    assert notices[0]["addresses_total"] == notices[1]["addresses_total"] == 50
    assert notices[0]["addresses"][0] == "user0@plant.example.com"
    assert notices[1]["addresses"][0] == "user50@plant.example.com"


def test_relay_chunk_ses_refused_is_sent_by_the_retry(world: FakeRelayWorld) -> None:
    """A chunk SES answered it did not take (throttled past the sender's attempts) leaves no mark: the
    redelivery sends it, once, with no fallback notice."""
    body = world.s3_event(world.put_mail(device_mail("ops@plant.example.com")))
    world.sender.fail_transiently("Throttling", times=world.sender.attempts)
    with pytest.raises(TransientSendError):
        process_message(body, world.deps)
    assert world.sent() == []
    [outcome] = process_message(body, world.deps)  # SQS hands the message back
    assert isinstance(outcome, Relayed)
    assert len(world.sent()) == 1
    assert world.fallback_notices() == []


def test_throttled_send_is_retried_by_the_client_and_sent_once(world: FakeRelayWorld) -> None:
    world.sender.fail_transiently("TooManyRequestsException", times=1)
    body = world.s3_event(world.put_mail(device_mail("a@plant.example.com")))
    assert process_batch(world.sqs_event(body), None, world.deps)["batchItemFailures"] == []
    assert world.sender.calls == 2 and len(world.sent()) == 1


def test_throttled_send_is_retried_by_sqs_and_sent_once(world: FakeRelayWorld) -> None:
    world.sender.attempts = 1
    world.sender.fail_transiently("TooManyRequestsException", times=1)
    event = world.sqs_event(world.s3_event(world.put_mail(device_mail("a@plant.example.com"))))
    # A batch whose every message failed fails the invocation: SQS then retries the batch.
    with pytest.raises(BatchProcessingError, match="TooManyRequestsException"):
        process_batch(event, None, world.deps)
    assert world.sent() == []
    assert process_batch(event, None, world.deps)["batchItemFailures"] == []
    assert world.sender.calls == 2 and len(world.sent()) == 1


def test_batch_of_ten_reports_only_the_failing_message(world: FakeRelayWorld) -> None:
    bodies = [world.s3_event(world.put_mail(device_mail(f"user{n}@plant.example.com"))) for n in range(10)]
    send_raw = world.sender.send_raw

    def fail_one(raw: bytes, **kwargs: Any) -> Any:
        if "user6@plant.example.com" in kwargs["recipients"]:
            raise ConnectionError("SES endpoint reset the connection")
        return send_raw(raw, **kwargs)

    world.sender.send_raw = fail_one  # type: ignore[method-assign]
    result = process_batch(world.sqs_event(*bodies), None, world.deps)
    assert result["batchItemFailures"] == [{"itemIdentifier": "m-6"}]
    assert len(world.sent()) == 9


def test_virus_verdict_quarantines_and_a_redelivery_reports_once(world: FakeRelayWorld) -> None:
    raw = b"X-SES-Virus-Verdict: FAIL\r\nX-SES-Spam-Verdict: PASS\r\n" + device_mail("ops@plant.example.com")
    key = world.put_mail(raw, "virus-0001")
    body = world.s3_event(key)
    [outcome] = process_message(body, world.deps)
    assert isinstance(outcome, Refused) and outcome.reason == "virus"
    assert world.sent() == []
    assert world.keys(INCOMING) == ["quarantine/virus-0001"]
    [notice] = world.fallback_notices()
    assert notice["location"] == f"s3://{INCOMING}/quarantine/virus-0001"
    [again] = process_message(body, world.deps)  # after the move: neither fails nor announces twice
    assert isinstance(again, Refused) and again.reason == "virus"
    assert world.fallback_notices() == []


# --- the hostile table ------------------------------------------------------------------------------------


#: Cases whose time goes into parsing the mail itself (thousands of parts, megabytes of addresses), not
#: into anything a server would do: each takes more than the fast tier's whole budget, so they run on the
#: real servers only (tests/relay/test_hostile_relay.py).
PARSER_BOUND = frozenset(
    {
        "five_thousand_attachments",
        "foundation-ten_thousand_parts",
        "megabyte_from_header",
        "invalid_entries_flood_after_a_valid_one",
    }
)
FAST_HOSTILE = [case for case in TABLE if case.name not in PARSER_BOUND]


@pytest.mark.parametrize(
    "hostile", [pytest.param(case, id=case.name, marks=case.marks) for case in FAST_HOSTILE]
)
def test_hostile_mail_is_relayed_quarantined_or_reported(world: FakeRelayWorld, hostile: Hostile) -> None:
    raw = hostile.build()
    key = world.put_mail(raw)
    message_id = key.rpartition("/")[2]

    [outcome] = process_message(world.s3_event(key), world.deps)

    notices = world.fallback_notices()
    for notice in notices:
        check_notice(notice, raw)
    stored = world.keys(ATTACHMENTS)
    if hostile.kind == "relayed":
        assert isinstance(outcome, Relayed), outcome
        assert [notice["reason"] for notice in notices] == ([hostile.notice] if hostile.notice else [])
        check_relayed(world, hostile, outcome, message_id)
        assert world.keys(INCOMING) == [key]
        return

    assert isinstance(outcome, Refused), outcome
    assert outcome.reason == hostile.reason, outcome.detail
    assert world.sent() == [] and stored == []
    [notice] = notices
    assert notice["reason"] == hostile.reason and notice["message_id"] == message_id
    kept_at = f"quarantine/{message_id}" if hostile.kind == "quarantined" else key
    assert notice["location"] == f"s3://{INCOMING}/{kept_at}"
    assert world.keys(INCOMING) == [kept_at]


def check_relayed(world: FakeRelayWorld, hostile: Hostile, outcome: Relayed, message_id: str) -> None:
    sends = world.sent()
    assert len(sends) == hostile.sends
    for send in sends:
        assert set(send.recipients) <= hostile.allowed_recipients
        message = sent_message(send)
        assert message["Bcc"] is None and message["Cc"] is None
        assert message["To"] == "undisclosed-recipients:;"
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
        for body in message.walk():
            if body.get_content_maintype() == "text":
                assert "Email_Rxers_Code" not in body.get_content()
    assert {address for send in sends for address in send.recipients} == set(outcome.recipients)
    stored = world.keys(ATTACHMENTS)
    for stored_key in stored:
        assert_no_traversal(stored_key, message_id)
    assert outcome.attachments == len(stored)
    if hostile.attachments is not None:
        assert len(stored) == hostile.attachments
    if hostile.keys is not None:
        assert sorted(stored) == sorted(f"{message_id}/{name}" for name in hostile.keys)


def test_only_the_parser_bound_cases_are_left_to_the_real_servers() -> None:
    assert {case.name for case in TABLE} >= PARSER_BOUND
    assert len(FAST_HOSTILE) == len(TABLE) - len(PARSER_BOUND)
