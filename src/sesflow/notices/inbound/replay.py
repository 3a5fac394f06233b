"""Mails already in the bucket (or a file) through the inbound steps again, the operator's way.

    for each stored mail: read it → its receipt from SES's headers → gate and the rest of the steps → tally

Safe to interrupt and to run again: every step is idempotent (a mail already stored on its maintenance is
recognised and changes nothing), so a second run finishes what the first left and repeats nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sesflow.mail import ParsedMail, parse_mail
from sesflow.notices.inbound.context import InboundDeps
from sesflow.notices.inbound.outcome import Outcome, Result
from sesflow.notices.inbound.pipeline import process_in_hand
from sesflow.notices.inbound.stored import stored_receipt
from sesflow.notices.inbound.triage import stored_at


@dataclass(frozen=True)
class StoredMailKey:
    bucket: str
    key: str
    modified: datetime

    @property
    def message_id(self) -> str:
        """SES names the object after its message id (after S3_KEY_PREFIX)."""
        return self.key.rpartition("/")[2]

    @property
    def location(self) -> str:
        return stored_at(self.bucket, self.key)


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` → (bucket, prefix)."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r}")
    return bucket, prefix


def process_stored_mail(
    message_id: str, mail: ParsedMail, deps: InboundDeps, *, vouched: bool = False, location: str = ""
) -> Outcome:
    """One stored mail through the inbound steps from the gate on. SES's verdicts come from the headers it
    wrote into the stored mail; `vouched` (the operator's word for a mail that never went through SES)
    lifts the SPF/DKIM/DMARC requirement, never the virus verdict. `location` (s3://bucket/key, or the
    file) names the mail's triage entry: one that waits is resolved once the mail is applied."""
    receipt = stored_receipt(message_id, mail)
    return process_in_hand(receipt, mail, deps, vouched=vouched, location=location)


def classify(outcome: Outcome) -> tuple[str, str]:
    """(kind, reason) for the summary: created, updated, unchanged (already applied), or ignored (why)."""
    if outcome.result is not Result.APPLIED:
        return "ignored", str(outcome.result)
    if any(applied.created for applied in outcome.applied):
        return "created", ""
    if any(applied.changed for applied in outcome.applied):
        return "updated", ""
    return "unchanged", "already applied"


@dataclass
class ReplaySummary:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, reason) → mails
    failures: list[tuple[str, str]] = field(default_factory=list)  # (key, error) for the operator

    def add(self, kind: str, reason: str) -> None:
        self.counts[(kind, reason)] += 1

    @property
    def failed(self) -> int:
        return sum(count for (kind, _), count in self.counts.items() if kind == "failed")

    def rows(self) -> Iterator[tuple[str, str, int]]:
        order = {"created": 0, "updated": 1, "unchanged": 2, "ignored": 3, "failed": 4}
        for (kind, reason), count in sorted(
            self.counts.items(), key=lambda row: (order[row[0][0]], row[0][1])
        ):
            yield kind, reason, count


def replay(
    keys: Iterable[StoredMailKey],
    deps: InboundDeps,
    *,
    on_mail: Callable[[StoredMailKey, str, str], None] = lambda key, kind, reason: None,
    summary: ReplaySummary | None = None,
    vouched: bool = False,
) -> ReplaySummary:
    """Each stored mail in turn (`vouched`: the operator's word for every one of them, see
    `process_stored_mail`). A mail that fails (NetBox down after its retries, an unreadable object) is
    counted as failed with its error and the run goes on; running again retries exactly those."""
    summary = summary if summary is not None else ReplaySummary()
    for stored in keys:
        try:
            mail = parse_mail(deps.store.open(stored.bucket, stored.key).body)
            outcome = process_stored_mail(
                stored.message_id, mail, deps, vouched=vouched, location=stored.location
            )
            kind, reason = classify(outcome)
        except Exception as error:  # noqa: BLE001 - counted, shown and left for the next run, not swallowed
            kind, reason = "failed", type(error).__name__
            summary.failures.append((stored.key, f"{type(error).__name__}: {error}"[:300]))
        summary.add(kind, reason)
        on_mail(stored, kind, reason)
    return summary
