"""Faults on purpose: SES throttling, SES refusing the mail, NetBox failing the final PATCH. Each ends with
the mail sent once (or, refused, journaled and held back), never twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sesflow.aws.ses import SendRateLimiter, SesSender
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.retry import RetryPolicy
from sesflow.notices.claims import FIRST_BACKOFF_SECONDS, ClaimState
from sesflow.notices.outbound.outcomes import Failed, Rejected, Sent
from sesflow.notices.outbound.schedule import send_ready

from ...harness.aws_faults import fail_sends
from ...netbox.fault_proxy import UNAVAILABLE, Fault, FaultProxy, throttled
from .conftest import FROM, AfterStep, Outbound, sent_mails

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def test_throttled_send_is_retried_and_sent_once(outbound: Outbound) -> None:
    [notification_id] = outbound.ready()
    attempts = fail_sends(outbound.aws.sesv2, "Throttling", times=1)

    [outcome] = send_ready(outbound.deps())

    assert isinstance(outcome, Sent)
    assert len(attempts) == 1
    assert len(sent_mails()) == 1
    assert outbound.status(notification_id) == "sent"


def test_throttling_that_outlasts_the_retries_is_sent_by_the_next_run(outbound: Outbound) -> None:
    [notification_id] = outbound.ready()
    every_attempt = 2  # instead of the default five: the same path, without the back-off sleeps
    attempts = fail_sends(outbound.aws.sesv2, "TooManyRequestsException", times=every_attempt)
    deps = outbound.deps()
    deps.sender = SesSender(
        outbound.aws.sesv2, limiter=SendRateLimiter(1000), attempts=every_attempt, sleep=lambda _: None
    )

    [failed] = send_ready(deps)

    assert isinstance(failed, Failed) and "TooManyRequests" in failed.error
    assert len(attempts) == every_attempt and sent_mails() == []
    claim = deps.claims.get(notification_id)
    assert (
        claim is not None and claim.inflight is None and claim.lease_until == 0
    )  # SES said no: not in flight
    [outcome] = send_ready(deps)  # the next poll, at once: nothing to wait for
    assert isinstance(outcome, Sent)
    assert len(sent_mails()) == 1


def test_rejected_mail_is_journaled_backed_off_and_not_resent_every_poll(outbound: Outbound) -> None:
    [notification_id] = outbound.ready()
    deps = outbound.deps(SES_FROM_ADDRESS="unverified@elsewhere.example")  # SES answers MessageRejected

    [outcome] = send_ready(deps)

    assert isinstance(outcome, Rejected) and "MessageRejected" in outcome.reason
    assert outcome.retry_at == pytest.approx(outbound.clock() + FIRST_BACKOFF_SECONDS)
    assert "Not sent: SES MessageRejected" in outbound.journal(notification_id)
    assert outbound.status(notification_id) == "ready"  # the plugin has no ready → failed
    calls = len(outbound.wire)
    assert [a.result for a in send_ready(deps)] == ["backing_off"]
    assert len(outbound.wire) == calls  # SES was not asked again
    claim = deps.claims.get(notification_id)
    assert claim is not None and claim.state is ClaimState.REJECTED and "MessageRejected" in claim.reason

    outbound.clock.advance(FIRST_BACKOFF_SECONDS + 1)
    [again] = send_ready(deps)
    assert isinstance(again, Rejected)
    assert again.retry_at == pytest.approx(outbound.clock() + 2 * FIRST_BACKOFF_SECONDS)  # doubled

    outbound.clock.advance(2 * FIRST_BACKOFF_SECONDS + 1)
    [sent] = send_ready(outbound.deps(SES_FROM_ADDRESS=FROM))  # the operator fixed the sender
    assert isinstance(sent, Sent)
    assert len(sent_mails()) == 1


@pytest.fixture
def proxy(outbound: Outbound) -> Iterator[FaultProxy]:
    port = int(outbound.server.url.rsplit(":", 1)[1])
    running = FaultProxy(port)
    yield running
    running.close()


def faults_before_the_patch(proxy: FaultProxy, *faults: Fault) -> AfterStep:
    # the mail went; what follows is marking it `sent`
    return AfterStep("send", lambda _: proxy.targeted.extend(("PATCH ", fault) for fault in faults))


def faults_after_the_send(proxy: FaultProxy, *faults: Fault) -> AfterStep:
    # every request from now on, the read before the PATCH too
    return AfterStep("send", lambda _: proxy.faults.extend(faults))


def test_netbox_5xx_and_429_on_the_patch_are_retried_without_sending_again(
    outbound: Outbound, proxy: FaultProxy
) -> None:
    [notification_id] = outbound.ready()
    client = NetBoxClient(
        proxy.url, outbound.server.tokens.admin, retry=RetryPolicy(deadline=10, base_delay=0.05)
    )
    deps = outbound.deps(client=client)
    deps.hooks = (faults_before_the_patch(proxy, UNAVAILABLE, throttled("0")),)

    [outcome] = send_ready(deps)

    assert isinstance(outcome, Sent)
    assert [line.split()[0] for line in proxy.faulted] == ["PATCH", "PATCH"]
    assert len(sent_mails()) == 1
    assert outbound.status(notification_id) == "sent"


def test_patch_failing_for_good_is_finished_by_the_next_run_without_a_second_mail(
    outbound: Outbound, proxy: FaultProxy
) -> None:
    [notification_id] = outbound.ready()
    # 50 faults outlast 5 s of retries; a shorter deadline could cut off a slow listing on a busy machine.
    client = NetBoxClient(
        proxy.url, outbound.server.tokens.admin, retry=RetryPolicy(deadline=5, base_delay=0.05)
    )
    deps = outbound.deps(client=client)
    deps.hooks = (faults_after_the_send(proxy, *[UNAVAILABLE] * 50),)

    [failed] = send_ready(deps)

    assert isinstance(failed, Failed)
    assert outbound.status(notification_id) == "ready"
    claim = deps.claims.get(notification_id)
    assert claim is not None and claim.state is ClaimState.SENT and claim.lease_until == 0
    proxy.faults.clear()
    deps.hooks = ()
    [outcome] = send_ready(deps)  # the next poll: the ids are recorded, only the PATCH is left
    assert isinstance(outcome, Sent)
    assert len(sent_mails()) == 1
    assert outbound.status(notification_id) == "sent"
