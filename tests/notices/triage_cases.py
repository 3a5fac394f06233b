"""The triage's cases, shared by the real-NetBox tests (test_inbound_triage.py) and the ones over the fakes
(test_inbound_triage_over_fakes.py): one mail per reason, delivered as SES does, and what its entry says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from sesflow.notices.inbound.triage import TriageNote, read_note
from sesflow.notices.inbound.triage_netbox import OPEN_TAG, UNMATCHED_SLUG

from .builders import ZAYO4
from .conftest import BUCKET, PREFIX, RECEIVED
from .mails import bcop_notice

#: A provider the operator creates in NetBox after the mail came: the fix a replay then applies.
LATER_SLUG = "zayo-later"


def _mail(sender: str, subject: str, body: str, *, date: bool = True) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["Subject"] = subject
    if date:
        message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message.set_content(body)
    return message.as_bytes()


@dataclass(frozen=True)
class Case:
    """A mail as SES delivers it (`deliver`'s keywords), the reason its entry gives, and where it is."""

    name: str
    raw: bytes
    delivery: dict[str, Any]
    reason: str
    sender: str
    provider: str = ""  # the parser's provider the entry names
    netbox_provider: str = UNMATCHED_SLUG  # the slug of the provider the entry is on
    replay: str = "replay"  # "replay", "replay --vouch", or "none" (the entry says why there is none)
    environ: dict[str, str] = field(default_factory=dict)


ZAYO = ZAYO4.read_bytes()
CASES = (
    Case(
        "hostile",
        ZAYO,
        {"source": "mr@zayo.com", "verdicts": {"virus": "FAIL"}, "subject": "Zayo maintenance"},
        "refused",
        "mr@zayo.com",
        replay="none",
    ),
    Case(
        "spoofed",
        ZAYO,
        {"source": "mr@zayo.com", "verdicts": {"spf": "FAIL", "dkim": "FAIL"}, "subject": "Zayo maintenance"},
        "refused",
        "mr@zayo.com",
        replay="replay --vouch",
    ),
    Case(
        "unknown sender",
        ZAYO.replace(b"mr@zayo.com", b"mr@unlisted.example"),
        {"source": "mr@unlisted.example", "subject": "Maintenance"},
        "unknown_provider",
        "mr@unlisted.example",
    ),
    Case(
        "not a notice",
        _mail("mr@zayo.com", "Your invoice", "Thank you for your business."),
        {"source": "mr@zayo.com", "subject": "Your invoice"},
        "not_a_notice",
        "mr@zayo.com",
        provider="zayo",
        netbox_provider="zayo",
    ),
    Case(
        "parse failure",
        _mail("support@megaport.com", "Planned maintenance", "Nothing a parser could read."),
        {"source": "support@megaport.com", "subject": "Planned maintenance"},
        "parse_error",
        "support@megaport.com",
        provider="megaport",  # NetBox has no provider megaport: the entry is on the unmatched one
    ),
    Case(
        "no netbox provider",
        ZAYO,
        {"source": "mr@zayo.com", "subject": "Zayo maintenance"},
        "no_netbox_provider",
        "mr@zayo.com",
        provider="zayo",
        environ={"NETBOX_PROVIDER_MAP": f'{{"zayo": "{LATER_SLUG}"}}'},
    ),
)
UNKNOWN_CIRCUITS = bcop_notice("TRIAGE-1", ["NOT-IN-NETBOX-1", "NOT-IN-NETBOX-2"], provider="zayo")
FIRST_LOCATION = f"s3://{BUCKET}/{PREFIX}ses-0001"


def check_waiting_entry(case: Case, entry: dict[str, Any], provider_id: int) -> TriageNote:
    """The one entry a case's mail leaves: a warning on `provider_id` that says all the operator needs."""
    note = read_note(entry["comments"])
    assert note is not None, entry["comments"]
    assert (entry["kind"]["value"], entry["assigned_object_type"]) == ("warning", "circuits.provider")
    assert entry["assigned_object_id"] == provider_id
    assert tags_of(entry) == {OPEN_TAG}
    said = (note.reason, note.sender, note.subject, note.provider, note.message_id, note.location)
    assert said == (
        case.reason,
        case.sender,
        case.delivery["subject"],
        case.provider,
        "ses-0001",
        FIRST_LOCATION,
    )
    assert note.received == (RECEIVED + timedelta(seconds=1)).isoformat()
    assert note.detail  # the step's own words: which verdict, which sender, the parser's reason
    if case.replay == "none":
        assert note.replay.startswith("none: "), note.replay
    else:
        command, _, vouch = case.replay.partition(" ")
        assert note.replay == f"sesflow notices inbound {command} {FIRST_LOCATION}" + (
            f" {vouch}" if vouch else ""
        )
    return note


def notes_of(entries: list[dict[str, Any]]) -> list[TriageNote]:
    """The notes of journal entries as NetBox answers them (those `render` wrote)."""
    return [note for entry in entries if (note := read_note(entry["comments"])) is not None]


def tags_of(entry: dict[str, Any]) -> set[str]:
    return {tag["slug"] for tag in entry.get("tags") or []}
