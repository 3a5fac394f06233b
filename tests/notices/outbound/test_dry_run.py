"""A dry run is the outbound steps with read-only adapters: on the same notifications it reaches the
decisions a real run reaches, and changes nothing (no mail, no claim, no NetBox write)."""

from __future__ import annotations

import pytest

from sesflow.aws.ses import NotedSends
from sesflow.local.netbox.seed import CONTACTS
from sesflow.notices.outbound.dry_run import LastComposed, read_only
from sesflow.notices.outbound.outcomes import Attempt, Rejected
from sesflow.notices.outbound.schedule import send_ready
from sesflow.notices.rounds import round_of

from .conftest import Outbound, sent_mails

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def decision(outcome: Attempt) -> tuple[int, str, str]:
    """What was decided for a notification: sent, rejected and why, or skipped and why."""
    return (
        outcome.notification_id,
        str(outcome.result),
        outcome.reason if isinstance(outcome, Rejected) else "",
    )


def test_a_dry_run_reaches_the_decisions_of_a_real_run_and_changes_nothing(outbound: Outbound) -> None:
    sendable, held = outbound.ready(2)
    # NetBox takes the address; SES could not (a reserved domain): no valid recipient.
    [contact] = outbound.patient().post(CONTACTS, [{"name": "Nobody", "email": "noc@example.invalid"}])
    [unaddressed] = outbound.ready(contact_ids=[int(contact["id"])])
    deps = outbound.deps()
    # Another run holds this one's claim: both runs leave it alone.
    deps.claims.acquire(held, round_of(outbound.notices.get_prepared_notification(held)))
    journals = {number: outbound.journal(number) for number in (sendable, held, unaddressed)}

    composed = LastComposed()
    dry = read_only(deps, hooks=(composed,))
    dry_decisions = [decision(outcome) for outcome in send_ready(dry)]

    assert sent_mails() == []
    assert {outbound.status(number) for number in (sendable, held, unaddressed)} == {"ready"}
    assert {number: outbound.journal(number) for number in journals} == journals
    assert deps.claims.get(sendable) is None and deps.claims.get(unaddressed) is None
    assert isinstance(dry.sender, NotedSends) and len(dry.sender.sends) == 1
    assert [delivery.notification_id for delivery in composed.deliveries] == [sendable]

    real_decisions = [decision(outcome) for outcome in send_ready(deps)]

    assert (
        dry_decisions
        == real_decisions
        == [
            (sendable, "sent", ""),
            (held, "held", ""),
            (unaddressed, "rejected", "no valid recipient address"),
        ]
    )
    assert len(sent_mails()) == 1
    assert sorted(dry.sender.sends[0].recipients) == sorted(sent_mails()[0].destinations)
