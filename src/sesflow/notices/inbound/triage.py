"""The triage: every mail the steps did not fully apply is written down in NetBox, where the operator works.

    the mail's outcome → its reason (or none) → the entry that waits, added once, or resolved once applied

An entry is a journal entry tagged `sesflow-triage` on the mail's NetBox provider (or on "Unmatched notices",
triage_netbox.py): the reason, sender, subject, received time, provider, the S3 location and the command that
runs the mail again once the cause is fixed. The text is written and read back here, so the CLI's table comes
from the very records an operator sees. Circuits NetBox lacks are journaled on their maintenance by
`final_status`; that entry gets the tag too, so the same filter lists it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sesflow.notices.inbound.outcome import Result
from sesflow.notices.inbound.planning import netbox_provider_slug
from sesflow.notices.inbound.receipt import Refusal
from sesflow.notices.inbound.triage_netbox import (
    MAINTENANCE_TYPE,
    OPEN_TAG,
    RESOLVED_TAG,
    TriageEntry,
    TriageRecords,
)

if TYPE_CHECKING:
    from sesflow.notices.inbound.context import InboundDeps, InboundMail
    from sesflow.notices.inbound.outcome import Outcome


class TriageReason(StrEnum):
    REFUSED = "refused"
    UNKNOWN_PROVIDER = "unknown_provider"
    NOT_A_NOTICE = "not_a_notice"
    PARSE_ERROR = "parse_error"
    NO_NETBOX_PROVIDER = "no_netbox_provider"
    UNKNOWN_CIRCUITS = "unknown_circuits"


#: How `final_status` begins the journal entry that names the circuits NetBox does not know.
UNKNOWN_CIRCUITS_TEXT = "Circuits in the provider's notice that NetBox does not know"
TITLE = "Inbound mail not applied"
_FIELD = re.compile(r"^- ([a-z][a-z ]*): (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class TriageNote:
    """What an entry says about its mail. `key` finds the entry again: the S3 location, or the message id
    of a mail read from elsewhere."""

    reason: TriageReason
    detail: str
    sender: str
    subject: str
    received: str  # ISO 8601, as the mail's receipt gives it
    provider: str  # the parser's provider, "" when none was found
    message_id: str
    location: str  # s3://bucket/key, or the file the operator applied; "" when unknown
    replay: str  # the command that runs the mail again, or why there is none

    @property
    def key(self) -> str:
        return self.location or self.message_id


@dataclass(frozen=True)
class Finished:
    """A mail at the end of its steps: as the steps left it, its outcome, and whether the run is the
    operator's (`apply` or `replay`), whose applied mail resolves the entry that waited for it."""

    mail: InboundMail
    outcome: Outcome
    resolves: bool = False


def triage_reason(outcome: Outcome) -> TriageReason | None:
    """The reason a mail waits for the operator, or None when it was applied (or only planned)."""
    if outcome.result in {Result.APPLIED, Result.PLANNED}:
        return None
    return TriageReason(str(outcome.result))


def stored_at(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def replay_line(location: str, refusal: Refusal | None) -> str:
    """The command that runs the mail again: a replay of its S3 object (a prefix that is the whole key), or
    an apply of the file it was read from. `--vouch` is the operator's word for a refused mail's sender; a
    virus verdict refuses whatever the operator says."""
    if refusal is Refusal.VIRUS:
        return "none: SES found a virus in the mail, and a replay refuses it again"
    if not location:
        return "none: where the mail is stored is not known"
    command = "replay" if location.startswith("s3://") else "apply"
    vouch = " --vouch" if refusal is not None else ""
    return f"sesflow notices inbound {command} {location}{vouch}"


def note_for(mail: InboundMail, outcome: Outcome, reason: TriageReason) -> TriageNote:
    receipt = mail.receipt
    chosen = mail.choice.sender if mail.choice is not None else ""
    sender = chosen or next(iter([*receipt.header_senders, receipt.envelope_sender]), "")
    refusal = mail.gate.refusal if mail.gate is not None else None
    return TriageNote(
        reason=reason,
        detail=_line(outcome.detail)[:500],
        sender=_line(sender),
        subject=_line(receipt.subject)[:300],
        received=receipt.received.isoformat(),
        provider=outcome.provider,
        message_id=receipt.message_id,
        location=mail.location,
        replay=replay_line(mail.location, refusal),
    )


def render(note: TriageNote) -> str:
    """The entry's Markdown: a title, one `- field: value` line each, and what to do."""
    rows = [
        ("reason", f"`{note.reason}`"),
        ("detail", note.detail or "-"),
        ("sender", note.sender or "-"),
        ("subject", note.subject or "-"),
        ("received", note.received),
        ("provider", note.provider or "-"),
        ("message id", note.message_id),
        ("mail", f"`{note.location}`" if note.location else "-"),
        ("replay", f"`{note.replay}`" if note.replay.startswith("sesflow ") else note.replay),
    ]
    lines = [f"**{TITLE}: {note.reason}**", "", *(f"- {name}: {value}" for name, value in rows)]
    if note.reason is TriageReason.REFUSED and "--vouch" in note.replay:
        lines += ["", "Replay with `--vouch` only if you trust this mail: it lifts the SPF/DKIM/DMARC check."]
    return "\n".join(lines)


def read_note(comments: str) -> TriageNote | None:
    """The note an entry's comments say, or None for text `render` did not write."""
    if not comments.startswith(f"**{TITLE}: "):
        return None
    found = {name: value for name, value in _FIELD.findall(comments)}
    try:
        reason = TriageReason(found["reason"].strip("`"))
    except (KeyError, ValueError):
        return None

    def value(name: str) -> str:
        text = found.get(name, "-")
        return "" if text == "-" else text.strip("`")

    return TriageNote(
        reason=reason,
        detail=value("detail"),
        sender=value("sender"),
        subject=value("subject"),
        received=value("received"),
        provider=value("provider"),
        message_id=value("message id"),
        location=value("mail"),
        replay=value("replay"),
    )


def keep_triage(finished: Finished, deps: InboundDeps) -> Outcome | None:
    """The step after the mail's steps: a mail not applied gets its entry (once, however often it is run
    again); an applied mail's unknown circuits are tagged; an operator's run that applies a mail resolves
    the entry that waited for it. Nothing is read for a mail applied on its first delivery without unknown
    circuits: it cannot have an entry. A NetBox failure raises, and the mail is run again."""
    records = deps.netbox.triage_records
    reason = triage_reason(finished.outcome)
    if reason is not None:
        note = note_for(finished.mail, finished.outcome, reason)
        _record(records, note, _provider_id(finished.mail, deps))
    elif finished.outcome.result is Result.APPLIED:
        _tag_unknown_circuits(records, finished.mail)
        if finished.resolves:
            _resolve(records, finished.mail)
    return None


def _record(records: TriageRecords, note: TriageNote, provider_id: int | None) -> None:
    waiting = _waiting_for(records, note.key)
    if not waiting:
        records.add(render(note), provider_id)
        return
    entry, said = waiting[0]
    if (said.reason, said.provider) != (note.reason, note.provider):
        records.rewrite(entry, render(note), provider_id)


def _resolve(records: TriageRecords, mail: InboundMail) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    for entry in _waiting_for_mail(records, mail):
        records.resolve(entry, f"{entry.comments}\n\n**Resolved**: applied on {today}.")


def _waiting_for_mail(records: TriageRecords, mail: InboundMail) -> list[TriageEntry]:
    """The entries that wait for this mail: by where it is stored, and, for a mail applied from a file, the
    entry SES's delivery wrote for the S3 object the file was downloaded from (the file keeps the object's
    name, SES's message id; the id is unique to an S3 object, never to a file name)."""
    key = mail.location or mail.receipt.message_id
    found = {entry.id: entry for entry, _ in _waiting_for(records, key)}
    message_id = mail.receipt.message_id
    if message_id and not key.startswith("s3://"):
        for entry in records.waiting(search=message_id):
            note = read_note(entry.comments)
            if note is not None and note.location.startswith("s3://") and note.message_id == message_id:
                found.setdefault(entry.id, entry)
    return list(found.values())


def _waiting_for(records: TriageRecords, key: str) -> list[tuple[TriageEntry, TriageNote]]:
    """The entries that wait for this mail (the search is a substring: each is checked by its key)."""
    found = []
    for entry in records.waiting(search=key):
        note = read_note(entry.comments)
        if note is not None and note.key == key:
            found.append((entry, note))
    return found


def _provider_id(mail: InboundMail, deps: InboundDeps) -> int | None:
    """The NetBox provider of the mail's parser provider, when both are known."""
    if mail.choice is None:
        return None
    slug = netbox_provider_slug(mail.choice.provider, mail.maintenances, deps.settings.netbox_provider_map)
    return deps.netbox.provider_id(slug)


def _tag_unknown_circuits(records: TriageRecords, mail: InboundMail) -> None:
    """The entry `final_status` wrote this run about circuits NetBox lacks, tagged as waiting (an entry
    already tagged is left: a newer notice naming the same circuits writes none)."""
    for write in mail.writes:
        maintenance_id = write.applied.maintenance_id
        if (
            not write.plan.unknown_circuits
            or maintenance_id is None
            or "journal" not in write.applied.changed
        ):
            continue
        for entry in records.on_maintenance(maintenance_id, UNKNOWN_CIRCUITS_TEXT):
            if entry.comments.startswith(UNKNOWN_CIRCUITS_TEXT) and not _tagged(entry):
                records.mark_waiting(entry)


def _tagged(entry: TriageEntry) -> bool:
    return bool({OPEN_TAG, RESOLVED_TAG} & set(entry.tags))


@dataclass(frozen=True)
class TriageRow:
    """One line of `sesflow notices inbound triage`."""

    reason: str
    received: str
    sender: str
    subject: str
    provider: str
    location: str
    replay: str


def row_of(entry: TriageEntry) -> TriageRow | None:
    """An entry that waits as the CLI lists it: a note, or a maintenance's unknown circuits."""
    note = read_note(entry.comments)
    if note is not None:
        provider = note.provider or entry.object_name
        return TriageRow(
            str(note.reason), note.received, note.sender, note.subject, provider, note.location, note.replay
        )
    if entry.object_type == MAINTENANCE_TYPE and entry.comments.startswith(UNKNOWN_CIRCUITS_TEXT):
        circuits = entry.comments.partition(":")[2].strip()
        return TriageRow(
            str(TriageReason.UNKNOWN_CIRCUITS),
            entry.created.isoformat(timespec="seconds"),
            "",
            f"circuits: {circuits}",
            f"maintenance {entry.object_name} (#{entry.object_id})",
            "",
            "none: add the circuits and their impacts in NetBox, then retag the entry",
        )
    return None


def _line(text: str) -> str:
    """One line of printable text: the entry's fields are read back line by line, NetBox refuses a NUL
    character in any text field (a hostile subject carries one), and a control or direction-override
    character has no business in what the operator reads."""
    return " ".join("".join(char if char.isprintable() else " " for char in text).split())
