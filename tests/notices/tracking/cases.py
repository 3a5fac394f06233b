"""Every SES event type in both shapes, to one and several recipients, with the NetBox status and journal text
each must leave: run against the real NetBox (test_netbox_flow.py) and over the fakes (test_over_fakes.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sesflow.local import ses_events as ses

type Json = dict[str, Any]

CASES = [
    # (case, recipients, legacy, expected status, text expected in the journal)
    ("send", 1, False, "sent", "[SES Send]"),
    ("delivery", 1, False, "delivered", "[SES Delivery] delivered to all 1"),
    ("delivery", 1, True, "delivered", "[SES Delivery] delivered to all 1"),
    ("delivery", 3, False, "delivered", "[SES Delivery] delivered to all 3"),
    ("delivery", 3, True, "delivered", "[SES Delivery] delivered to all 3"),
    ("bounce", 1, False, "failed", "mailbox unknown"),
    ("bounce", 3, True, "failed", "mailbox unknown"),
    ("complaint", 1, False, "failed", "[SES Complaint]"),
    ("complaint", 3, True, "failed", "[SES Complaint]"),
    ("reject", 3, False, "failed", "[SES Reject]"),
    ("rendering", 1, False, "failed", "[SES Rendering Failure]"),
    ("transient", 3, False, "sent", "[SES Bounce (Transient)]"),
    ("transient", 1, True, "sent", "[SES Bounce (Transient)]"),
    ("delay", 3, False, "sent", "[SES DeliveryDelay]"),
    ("open", 1, False, "sent", "[SES Open] by noc@example.net"),
    ("open", 3, False, "sent", "[SES Open] by one of its recipients"),
    ("click", 1, False, "sent", "[SES Click]"),
]


def build(case: str, mail: Json, recipients: list[str], at: datetime) -> Json:
    builders: dict[str, Callable[[], Json]] = {
        "send": lambda: ses.send_event(mail),
        "delivery": lambda: ses.delivery_event(mail, recipients, at=at),
        "bounce": lambda: ses.bounce_event(
            mail, recipients[-1:], at=at, diagnostic="smtp; 550 mailbox unknown"
        ),
        "complaint": lambda: ses.complaint_event(mail, recipients[:1], at=at),
        "reject": lambda: ses.reject_event(mail, "Bad content"),
        "rendering": lambda: ses.rendering_failure_event(mail),
        "transient": lambda: ses.bounce_event(mail, recipients[:1], at=at, bounce_type="Transient"),
        "delay": lambda: ses.delivery_delay_event(mail, recipients[:1], at=at),
        "open": lambda: ses.open_event(mail, at=at),
        "click": lambda: ses.click_event(mail, at=at),
    }
    return builders[case]()
