"""What outbound writes in a notification's journal: what was sent, and what was left out of the mail."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sesflow.mail.addresses import InvalidAddress
from sesflow.notices.outbound.delivery import Delivery

if TYPE_CHECKING:
    from sesflow.mail.compose import RefusedHeader


def problems(refused: Iterable[RefusedHeader], invalid: Iterable[InvalidAddress]) -> list[str]:
    """Refused headers and skipped recipients, a line each."""
    lines = [f"Header {header} not applied." for header in refused]
    lines += [f"Recipient {address.text!r} skipped: {address.reason}" for address in invalid]
    return lines


def sent_message(delivery: Delivery) -> str:
    """The message of the PATCH to `sent`: the SES ids, the counts, and what was left out."""
    composition = delivery.composition
    ids = ", ".join(delivery.message_ids[part] for part in sorted(delivery.message_ids))
    recipients = sum(len(mail.recipients) for mail in composition.mails)
    lines = [
        f"Sent via SES to {recipients} recipients in {len(composition.mails)} message(s) (MessageId: {ids})"
    ]
    return "\n".join([*lines, *problems(composition.refused_headers, delivery.invalid)])
