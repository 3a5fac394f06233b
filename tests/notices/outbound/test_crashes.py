"""A run killed after each step, then the next run: exactly one mail each time, and NetBox ends `sent`.

The kill is `StopRun`, a BaseException raised by a step hook (`StopAfter`): like a real crash, it skips
every `except Exception` clean-up, so the claim is left exactly as the dead run left it. Each runs against a
NetBox with ETags and If-Match (4.6+) and against one without (4.5)."""

from __future__ import annotations

from typing import Any

import pytest

from sesflow.notices.claims import LEASE_SECONDS, ClaimState
from sesflow.notices.outbound.delivery import OutboundDeps
from sesflow.notices.outbound.outcomes import Sent, Skipped
from sesflow.notices.outbound.schedule import send_ready
from sesflow.pipeline import StopAfter, StopRun

from .cases import CRASH_STEPS
from .conftest import NETBOX_MODES, Outbound, sent_mails, sent_notification_ids

pytestmark = [
    pytest.mark.netbox,
    pytest.mark.integration,
    pytest.mark.parametrize("netbox_mode", NETBOX_MODES, indirect=True),  # with ETags (4.6+), without (4.5)
]


def crash_then_recover(outbound: Outbound, step: str) -> tuple[int, OutboundDeps]:
    [notification_id] = outbound.ready()
    crashing = outbound.deps()
    crashing.hooks = (StopAfter(step),)
    with pytest.raises(StopRun):
        send_ready(crashing)
    return notification_id, outbound.deps()


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_crash_after_a_step_ends_with_exactly_one_mail(outbound: Outbound, step: str) -> None:
    notification_id, deps = crash_then_recover(outbound, step)
    if step != "mark_sent":
        # The dead run's lease still holds: an overlapping run leaves the notification alone.
        assert [(a.result) for a in send_ready(deps)] == ["held"]
    outbound.clock.advance(LEASE_SECONDS + 1)

    outcomes = send_ready(deps)

    assert sent_notification_ids() == [notification_id]
    assert outbound.status(notification_id) == "sent"
    assert outcomes == ([] if step == "mark_sent" else [Sent(notification_id, (sent_mails()[0].id,), 2)])
    assert send_ready(deps) == []
    assert len(sent_mails()) == 1


def ses_event_tags(outbound: Outbound) -> dict[str, list[str]]:
    """The tags SES puts in `mail.tags` of its events: ours, as sent, each a list."""
    return {tag["Name"]: [tag["Value"]] for tag in outbound.wire[-1]["EmailTags"]}


def test_crash_after_ses_took_the_mail_uses_the_send_event_as_evidence(outbound: Outbound) -> None:
    notification_id, deps = crash_then_recover(outbound, "ses_accepted")
    [mail] = sent_mails()
    outbound.clock.advance(LEASE_SECONDS + 1)
    # No id recorded and no event yet: the part may have gone, so it is not sent again for now.
    [waiting] = send_ready(deps)
    assert isinstance(waiting, Skipped) and waiting.result == "awaiting_ses_evidence"
    assert waiting.until is not None and waiting.until > outbound.clock()

    # SES's Send event reaches the tracking flow, which records it as evidence.
    deps.claims.record_send_evidence(notification_id, mail.id, ses_event_tags(outbound))
    assert deps.claims.shows_send(notification_id, mail.id)
    [outcome] = send_ready(deps)

    assert outcome == Sent(notification_id, (mail.id,), 2)
    assert len(sent_mails()) == 1
    assert outbound.status(notification_id) == "sent"
    assert mail.id in outbound.journal(notification_id)


def test_evidence_of_another_round_or_part_does_not_count(outbound: Outbound) -> None:
    notification_id, deps = crash_then_recover(outbound, "ses_accepted")
    assert len(sent_mails()) == 1
    outbound.clock.advance(LEASE_SECONDS + 1)
    tags = ses_event_tags(outbound)
    deps.claims.record_send_evidence(notification_id, "other-round", tags | {"outbound_round": ["1999"]})
    deps.claims.record_send_evidence(notification_id, "other-part", tags | {"outbound_part": ["2"]})
    assert [a.result for a in send_ready(deps)] == ["awaiting_ses_evidence"]
    assert len(sent_mails()) == 1


def test_crash_inside_the_send_call_waits_the_bound_then_sends(outbound: Outbound) -> None:
    """The run died while handing the mail to SES, and SES never got it: no id, and no event ever comes.
    After the bounded wait the next run concludes SES did not take it, and sends."""
    [notification_id] = outbound.ready()
    crashing = outbound.deps()

    def die(**_: Any) -> None:
        raise StopRun("inside SendEmail")

    outbound.aws.sesv2.meta.events.register("before-send.sesv2.SendEmail", die, unique_id="die")
    with pytest.raises(StopRun):
        send_ready(crashing)
    outbound.aws.sesv2.meta.events.unregister("before-send.sesv2.SendEmail", unique_id="die")
    assert sent_mails() == []
    claim = crashing.claims.get(notification_id)
    assert claim is not None and claim.inflight == 1 and claim.state is ClaimState.SENDING

    deps = outbound.deps()
    outbound.clock.advance(LEASE_SECONDS + 1)
    assert [a.result for a in send_ready(deps)] == ["awaiting_ses_evidence"]
    outbound.clock.advance(deps.claims.evidence_wait_seconds)
    [outcome] = send_ready(deps)

    assert isinstance(outcome, Sent)
    assert sent_notification_ids() == [notification_id]
    assert outbound.status(notification_id) == "sent"
