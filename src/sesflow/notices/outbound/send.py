"""Each part of the mail to SES, its id recorded in the claim as soon as SES answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesflow.aws.ses import PermanentSendError, TransientSendError
from sesflow.notices.claims import evidence_deadline
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.outcomes import Rejected, Result, Skipped
from sesflow.notices.outbound.reject import reject
from sesflow.notices.rounds import NOTIFICATION_TAG, PART_TAG, ROUND_TAG
from sesflow.pipeline import reached

if TYPE_CHECKING:
    from sesflow.mail.compose import OutboundMail


def send(delivery: Delivery, deps: OutboundDeps) -> Skipped | Rejected | None:
    """Each part not known to have gone goes to SES. A part an earlier run was handing to SES when it
    died is sent again only once SES's own events have had time to show it went (`evidence_deadline`)."""
    for mail in delivery.composition.mails:
        if mail.part in delivery.message_ids:
            continue
        waiting = wait_for_evidence(delivery, deps, mail.part)
        if waiting is not None:
            return waiting
        if mail.part in delivery.message_ids:  # SES's events showed it went
            continue
        refused = send_part(delivery, deps, mail)
        if refused is not None:
            return refused
    return None


def wait_for_evidence(delivery: Delivery, deps: OutboundDeps, part: int) -> Skipped | None:
    """For the part a dead run was handing to SES: its id from SES's events if they show it, else a wait
    until the evidence deadline; after that, SES did not take it (None, and the part goes again)."""
    until = evidence_deadline(delivery.claim, part, deps.claims.evidence_wait_seconds)
    if until is None:
        return None
    evidence = deps.claims.evidence_for(delivery.notification_id, delivery.round).get(part)
    if evidence is not None:
        record(delivery, deps, part, evidence)
        return None
    if deps.claims.clock() < until:
        deps.claims.unlock(delivery.claim)
        return Skipped(delivery.notification_id, Result.AWAITING_SES_EVIDENCE, until)
    return None


def send_part(delivery: Delivery, deps: OutboundDeps, mail: OutboundMail) -> Rejected | None:
    deps.claims.begin_part(delivery.claim, mail.part)
    try:
        sent = deps.sender.send_raw(
            mail.raw,
            from_address=deps.settings.from_address,
            recipients=mail.recipients,
            configuration_set=deps.settings.configuration_set,
            tags={
                NOTIFICATION_TAG: str(delivery.notification_id),
                ROUND_TAG: delivery.round,
                PART_TAG: str(mail.part),
            },
        )
    except PermanentSendError as error:
        return reject(delivery, deps, f"{error} (part {mail.part}, {len(mail.recipients)} recipients)")
    except TransientSendError as error:
        if not error.uncertain:  # SES answered, or was never reached: it did not take the message
            deps.claims.abandon_part(delivery.claim, mail.part)
        raise
    reached("ses_accepted")
    record(delivery, deps, mail.part, sent.message_id)
    return None


def record(delivery: Delivery, deps: OutboundDeps, part: int, message_id: str) -> None:
    delivery.message_ids[part] = message_id
    parts = {mail.part for mail in delivery.composition.mails}
    last = parts <= set(delivery.message_ids)
    deps.claims.record_part(delivery.claim, part, message_id, last=last)
