"""The MIME for each part of a notification, to the addresses SES can take."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sesflow.config import OutboundSettings
from sesflow.mail.addresses import InvalidAddress, ValidAddress, dedupe_addresses, validate_address
from sesflow.netbox.records import PreparedNotification, Recipient
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.reject import reject

if TYPE_CHECKING:
    from sesflow.mail.compose import Composition
    from sesflow.notices.outbound.outcomes import Rejected


def compose(delivery: Delivery, deps: OutboundDeps) -> Rejected | None:
    """The MIME for each part; a notification with no address SES can take is rejected."""
    recipients, delivery.invalid = valid_recipients(delivery.notification.recipients)
    if not recipients:
        return reject(delivery, deps, "no valid recipient address")
    delivery.composition = composition_of(
        delivery.notification, recipients, deps.settings, round_id=delivery.round, date=deps.now()
    )
    return None


def valid_recipients(
    recipients: Iterable[Recipient],
) -> tuple[list[ValidAddress], tuple[InvalidAddress, ...]]:
    """The snapshot's addresses that SES can take, without repeats; and the others with the reason."""
    valid: list[ValidAddress] = []
    invalid: list[InvalidAddress] = []
    for recipient in recipients:
        checked = validate_address(recipient.email)
        if isinstance(checked, InvalidAddress):
            invalid.append(checked)
        elif checked.ascii_address is None:
            invalid.append(InvalidAddress(recipient.email, "SES needs an ASCII local part"))
        else:
            valid.append(dataclasses.replace(checked, display_name=recipient.name))
    return dedupe_addresses(valid), tuple(invalid)


def composition_of(
    notification: PreparedNotification,
    recipients: list[ValidAddress],
    settings: OutboundSettings,
    *,
    round_id: str,
    date: datetime,
) -> Composition:
    # Only a run that sends composes: css_inline (and the MIME builder) load on the first mail.
    from sesflow.mail.compose import Addressing, NoticeContent, compose_notification

    return compose_notification(
        NoticeContent(
            subject=notification.subject,
            body_text=notification.body_text,
            body_html=notification.body_html,
            css=notification.css,
            ical_content=notification.ical_content,
            headers=notification.headers,
        ),
        recipients,
        notification_id=notification.id,
        round_id=round_id,
        addressing=Addressing(settings.from_address, settings.recipients_visible),
        date=date,
    )
