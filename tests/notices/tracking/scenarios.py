"""Realistic SES event sets for one notification mailed to three recipients, built with the local outbox's
builder, so the unit and NetBox tests shuffle the same data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sesflow.local import ses_events as ses

type Json = dict[str, Any]


def tags(notification_id: int, round_id: str | None = None) -> dict[str, list[str]]:
    """Outbound's tags; without `round_id` the round tag is left out (then no round is compared)."""
    found = {"notification_id": [str(notification_id)], "outbound_part": ["0"]}
    return found | ({"outbound_round": [round_id]} if round_id else {})


def one_bounce(
    notification_id: int, recipients: Sequence[str], sent: datetime, message_id: str
) -> list[Json]:
    """All three in one mail: two delivered, the third delayed then bounced for good; opens and a click."""
    first, second, third = recipients
    mail = ses.mail_object(message_id, recipients, sent=sent, tags=tags(notification_id))
    ms = timedelta(milliseconds=1)
    return [
        ses.send_event(mail),
        ses.delivery_delay_event(mail, [third], at=sent + 60 * ms),
        ses.delivery_event(mail, [first], at=sent + 110 * ms),
        ses.delivery_event(mail, [second], at=sent + 140 * ms),
        ses.bounce_event(
            mail, [third], at=sent + 200 * ms, diagnostic="smtp; 550 5.1.1 <field> mailbox unknown"
        ),
        ses.open_event(mail, at=sent + 300 * ms),
        ses.click_event(mail, at=sent + 350 * ms),
        ses.open_event(mail, at=sent + 400 * ms),  # a second open: no second journal entry
    ]


def all_delivered(
    notification_id: int, recipients: Sequence[str], sent: datetime, message_id: str
) -> list[Json]:
    """All three delivered (two in one event), one after a transient bounce; an open and a click."""
    first, second, third = recipients
    mail = ses.mail_object(message_id, recipients, sent=sent, tags=tags(notification_id))
    ms = timedelta(milliseconds=1)
    return [
        ses.send_event(mail),
        ses.bounce_event(
            mail,
            [third],
            at=sent + 50 * ms,
            bounce_type="Transient",
            sub_type="MailboxFull",
            diagnostic="smtp; 452 4.2.2 mailbox full",
        ),
        ses.delivery_event(mail, [first, second], at=sent + 100 * ms),
        ses.delivery_event(mail, [third], at=sent + 250 * ms),
        ses.open_event(mail, at=sent + 300 * ms),
        ses.click_event(mail, at=sent + 320 * ms),
    ]


def latest_delivery(events: Sequence[Json]) -> datetime:
    return max(
        datetime.fromisoformat(event["delivery"]["timestamp"].replace("Z", "+00:00"))
        for event in events
        if event.get("eventType") == "Delivery"
    )
