"""The schedule against the real NetBox and moto's SES: a `ready` notification is sent once, with the
configuration set and tags on the wire, and NetBox says `sent` with the SES id in its journal."""

from __future__ import annotations

import pytest

from sesflow.local.http_api import api_event
from sesflow.local.lambda_context import LocalLambdaContext
from sesflow.notices.outbound import handler
from sesflow.notices.outbound.events import ScheduledPoll, UnknownEvent, WebhookRequest, read_event
from sesflow.notices.outbound.outcomes import Sent, Skipped
from sesflow.notices.outbound.pipeline import deliver
from sesflow.notices.outbound.schedule import send_ready

from .conftest import CONFIGURATION_SET, FROM, Outbound, parsed, sent_mails

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def test_ready_notification_is_sent_once_and_marked_sent(outbound: Outbound) -> None:
    [notification_id] = outbound.ready()
    deps = outbound.deps()

    [outcome] = send_ready(deps)

    assert isinstance(outcome, Sent)
    [mail] = sent_mails()
    assert outcome.message_ids == (mail.id,)
    assert sorted(mail.destinations) == ["noc@example.net", "oncall@example.net"]
    message = parsed(mail.raw_data)
    assert message["From"] == FROM
    assert message["Subject"] == "Planned maintenance 0"
    assert str(message["To"]) == "undisclosed-recipients:;"
    [request] = outbound.wire
    assert request["ConfigurationSetName"] == CONFIGURATION_SET
    tags = {tag["Name"]: tag["Value"] for tag in request["EmailTags"]}
    assert tags["notification_id"] == str(notification_id)
    assert outbound.status(notification_id) == "sent"
    assert mail.id in outbound.journal(notification_id)

    assert send_ready(deps) == []  # nothing is ready any more
    assert len(sent_mails()) == 1


def test_a_second_run_on_a_done_claim_sends_nothing(outbound: Outbound) -> None:
    [notification_id] = outbound.ready()
    deps = outbound.deps()
    listed = list(deps.notices.prepared_notifications())  # read while still `ready`
    send_ready(deps)

    assert deliver(listed[0], deps) == Skipped(notification_id, "done")
    assert len(sent_mails()) == 1


def test_the_etag_derived_from_the_list_is_the_one_netbox_gives(outbound: Outbound) -> None:
    [notification_id] = outbound.ready()
    [listed] = outbound.notices.ready_notifications()
    assert listed.etag is not None
    assert listed.etag == outbound.notices.get_prepared_notification(notification_id).etag


@pytest.mark.unit
def test_the_handler_tells_its_two_triggers_apart() -> None:
    schedule = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}, "resources": []}
    http = api_event("POST", "/webhook/outbound", {}, b"{}")
    assert isinstance(read_event(schedule), ScheduledPoll)
    assert isinstance(read_event(http), WebhookRequest)
    with pytest.raises(UnknownEvent):
        handler({"Records": []}, LocalLambdaContext.start("sesflow-notices-outbound", 30))  # type: ignore[arg-type]
