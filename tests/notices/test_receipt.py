"""The SES receipt record and the gate in front of NetBox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sesflow.notices.inbound.receipt import Refusal, UnreadableReceipt, check_gate, read_receipts

from .conftest import receipt_event

pytestmark = pytest.mark.unit


def test_record_gives_id_senders_time_and_verdicts() -> None:
    event = receipt_event("abc", source="Bounce@Zayo.com", from_header="MR Zayo <MR@zayo.com>", subject="S")
    (receipt,) = read_receipts(event)
    assert receipt.message_id == "abc"
    assert receipt.envelope_sender == "bounce@zayo.com"
    assert receipt.header_senders == ("mr@zayo.com",)
    assert receipt.received == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert receipt.verdicts["dmarc"] == "PASS"


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": [{"eventSource": "aws:s3"}]}])
def test_non_ses_events_are_unreadable(event: dict[str, object]) -> None:
    with pytest.raises(UnreadableReceipt):
        read_receipts(event)


@pytest.mark.parametrize(
    ("verdicts", "refusal"),
    [
        ({}, None),
        ({"spf": "FAIL"}, None),  # DKIM still passes
        ({"dkim": "GRAY"}, None),
        ({"spf": "FAIL", "dkim": "FAIL"}, Refusal.NOT_AUTHENTICATED),
        ({"spf": "PROCESSING_FAILED", "dkim": "GRAY"}, Refusal.NOT_AUTHENTICATED),
        ({"dmarc": "FAIL"}, Refusal.DMARC_FAIL),
        ({"dmarc": "GRAY"}, None),
        ({"virus": "FAIL"}, Refusal.VIRUS),
    ],
)
def test_gate_requires_spf_or_dkim_and_no_dmarc_or_virus_fail(
    verdicts: dict[str, str], refusal: Refusal | None
) -> None:
    receipt = read_receipts(receipt_event("m", source="mr@zayo.com", verdicts=verdicts))[0]
    assert check_gate(receipt, require_auth=True, trusted_forwarders=()).refusal == refusal


def test_without_required_auth_only_a_virus_is_refused() -> None:
    failing = read_receipts(
        receipt_event("m", source="a@b.example", verdicts={"spf": "FAIL", "dkim": "FAIL"})
    )
    assert check_gate(failing[0], require_auth=False, trusted_forwarders=()).refusal is None
    virus = read_receipts(receipt_event("m", source="a@b.example", verdicts={"virus": "FAIL"}))
    assert check_gate(virus[0], require_auth=False, trusted_forwarders=()).refusal is Refusal.VIRUS


def test_trusted_forwarder_is_recognised_by_address_or_domain() -> None:
    (receipt,) = read_receipts(
        receipt_event("m", source="noc@corp.example", from_header="Ops <ops@corp.example>")
    )
    assert check_gate(receipt, require_auth=True, trusted_forwarders=("@corp.example",)).forwarded_by == (
        "ops@corp.example"
    )
    assert check_gate(receipt, require_auth=True, trusted_forwarders=("noc@corp.example",)).forwarded_by == (
        "noc@corp.example"
    )
    assert check_gate(receipt, require_auth=True, trusted_forwarders=("@other.example",)).forwarded_by is None
