"""`sesflow notices tracking replay`: a saved file or the DLQ, dry run or for real, against the real NetBox
and moto's server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sesflow.aws.clients import AwsClients
from sesflow.cli.notices import notices_app
from sesflow.local import ses_events as ses
from sesflow.local.netbox import RunningNetBox

from .conftest import RECIPIENTS, TABLE, Notifications, TrackingPipe, journal, to_ms, wait_past
from .scenarios import tags

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def _env(netbox: RunningNetBox) -> dict[str, str]:
    return {"NETBOX_URL": netbox.url, "NETBOX_API_TOKEN": netbox.tokens.admin, "IDEMPOTENCY_TABLE": TABLE}


def test_dry_run_prints_the_decisions_and_writes_nothing(
    pipe: TrackingPipe, prepared: Notifications, clean_netbox: RunningNetBox, tmp_path: Path
) -> None:
    notification = prepared.sent(RECIPIENTS[:1])
    assert notification.sent_at is not None
    mail = ses.mail_object("ses-cli", RECIPIENTS[:1], sent=notification.sent_at, tags=tags(notification.id))
    at = notification.sent_at + timedelta(milliseconds=100)
    saved = tmp_path / "events.json"
    saved.write_text(
        json.dumps(
            ses.sqs_event([json.dumps(ses.sns_envelope(ses.delivery_event(mail, RECIPIENTS[:1], at=at)))])
        )
    )
    wait_past(at)
    before = journal(prepared.api, notification.id)
    result = CliRunner().invoke(
        notices_app, ["tracking", "replay", str(saved), "--dry-run"], env=_env(clean_netbox)
    )
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output and "status → delivered" in result.output
    assert "1 of 1 messages planned" in result.output
    assert prepared.api.get_prepared_notification(notification.id).status == "sent"
    assert journal(prepared.api, notification.id) == before


def test_replay_of_the_dlq_applies_and_empties_it(
    pipe: TrackingPipe, prepared: Notifications, clean_netbox: RunningNetBox, aws: AwsClients
) -> None:
    notification = prepared.sent(RECIPIENTS[:2])
    assert notification.sent_at is not None
    mail = ses.mail_object("ses-dlq", RECIPIENTS[:2], sent=notification.sent_at, tags=tags(notification.id))
    at = notification.sent_at + timedelta(milliseconds=100)
    for event in (ses.delivery_event(mail, RECIPIENTS[:2], at=at), ses.open_event(mail, at=at)):
        aws.sqs.send_message(QueueUrl=pipe.dlq_url, MessageBody=json.dumps(ses.sns_envelope(event)))
    wait_past(at)
    result = CliRunner().invoke(notices_app, ["tracking", "replay", pipe.dlq_url], env=_env(clean_netbox))
    assert result.exit_code == 0, result.output
    assert "2 of 2 messages applied" in result.output
    after = prepared.api.get_prepared_notification(notification.id)
    assert after.status == "delivered" and after.delivered_at == to_ms(at)
    assert aws.sqs.receive_message(QueueUrl=pipe.dlq_url).get("Messages", []) == []
    # Replaying the same events again writes nothing more.
    entries = journal(prepared.api, notification.id)
    for event in (ses.delivery_event(mail, RECIPIENTS[:2], at=at), ses.open_event(mail, at=at)):
        aws.sqs.send_message(QueueUrl=pipe.dlq_url, MessageBody=json.dumps(ses.sns_envelope(event)))
    result = CliRunner().invoke(notices_app, ["tracking", "replay", pipe.dlq_url], env=_env(clean_netbox))
    assert result.exit_code == 0, result.output
    assert "duplicate" in result.output
    assert journal(prepared.api, notification.id) == entries


def test_a_message_that_cannot_apply_yet_stays_in_the_dlq(
    pipe: TrackingPipe, prepared: Notifications, clean_netbox: RunningNetBox, aws: AwsClients
) -> None:
    ready = prepared.ready(RECIPIENTS[:1])
    mail = ses.mail_object("ses-wait", RECIPIENTS[:1], sent=datetime.now(UTC), tags=tags(ready.id))
    event = ses.delivery_event(mail, RECIPIENTS[:1], at=datetime.now(UTC))
    aws.sqs.send_message(QueueUrl=pipe.dlq_url, MessageBody=json.dumps(ses.sns_envelope(event)))
    result = CliRunner().invoke(notices_app, ["tracking", "replay", pipe.dlq_url], env=_env(clean_netbox))
    assert result.exit_code == 1
    assert "wait_for_send" in result.output
    assert len(aws.sqs.receive_message(QueueUrl=pipe.dlq_url).get("Messages", [])) == 1
