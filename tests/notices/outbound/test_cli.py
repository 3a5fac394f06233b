"""`sesflow notices outbound preview | send [--dry-run] | pending` against the real NetBox and moto."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sesflow.cli.notices import notices_app
from sesflow.notices.outbound.pipeline import send_one
from sesflow.notices.outbound.schedule import send_ready

from .conftest import CONFIGURATION_SET, FROM, TABLE, Outbound, sent_mails

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def env(outbound: Outbound, **extra: str) -> dict[str, str]:
    return {
        "NETBOX_URL": outbound.server.url,
        "NETBOX_API_TOKEN": outbound.server.tokens.admin,
        "IDEMPOTENCY_TABLE": TABLE,
        "SES_FROM_ADDRESS": FROM,
        "SES_CONFIGURATION_SET": CONFIGURATION_SET,
        "COLUMNS": "300",  # one table row per line
        **extra,
    }


def run(outbound: Outbound, *args: str, **extra: str) -> str:
    result = CliRunner().invoke(notices_app, ["outbound", *args], env=env(outbound, **extra))
    assert result.exit_code == 0, result.output
    return result.output


def test_preview_and_dry_run_print_the_mime_and_send_nothing(outbound: Outbound) -> None:
    [notification_id] = outbound.ready(headers={"Bcc": "someone@evil.example"})
    for args in (["preview", str(notification_id)], ["send", str(notification_id), "--dry-run"]):
        printed = run(outbound, *args)
        assert "Subject: Planned maintenance 0" in printed
        assert f"Message-ID: <notification-{notification_id}." in printed
        assert "'Bcc'" in printed and "would not be applied" in printed
    assert sent_mails() == []
    assert outbound.status(notification_id) == "ready"


def test_pending_says_why_and_send_sends(outbound: Outbound) -> None:
    waiting, refused = outbound.ready(2)
    rejecting = outbound.deps(SES_FROM_ADDRESS="unverified@elsewhere.example")
    assert send_one(refused, rejecting).result == "rejected"

    lines = run(outbound, "pending").splitlines()
    assert any(f" {waiting} " in line and "not claimed yet" in line for line in lines)
    assert any(
        f" {refused} " in line and "rejected 1x" in line and "MessageRejected" in line for line in lines
    )

    printed = run(outbound, "send", str(waiting))
    assert f"notification {waiting}: sent" in printed
    assert len(sent_mails()) == 1
    assert outbound.status(waiting) == "sent"
    assert [outcome.result for outcome in send_ready(outbound.deps())] == ["backing_off"]
    assert len(sent_mails()) == 1
