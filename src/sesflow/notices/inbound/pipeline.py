"""Notices inbound: an SES receipt (Lambda action, async) → the provider's mail from S3 → NetBox.

    gate → load → pick_provider → parse → plan → write_maintenance → write_impacts → final_status
    → warn_overlaps → store_mail, then keep_triage, then report

- `gate` (receipt.py): SES's verdicts and the trusted forwarders decide whether the mail may change NetBox;
- `load` (stored.py): the raw mail SES's S3 action stored;
- `pick_provider` (providers.py): whose parser reads it, from its senders (or a trusted forwarder's original);
- `parse` (parser.py): every maintenance circuit-maintenance-parser finds in it;
- `plan` (planning.py, the rules in plan.py): what NetBox holds for each window, and what should change;
- `write_maintenance`, `write_impacts`, `final_status`, `store_mail` (writes.py): NetBox brought to the
  plans through `deps.netbox` (in_netbox.py) — `NoticesInNetBox` writes, `NoticesPreview` (the dry run)
  records the writes it would make;
- `warn_overlaps` (overlaps.py): a window created or moved is checked against the live maintenances it
  overlaps; a pair whose impacts reach one site gets a warning journaled on both;
- `keep_triage` (triage.py): a mail not applied becomes a journal entry in NetBox that the operator finds
  by its tag; a run of its own after the mail's, whatever step ended it;
- `report` (report.py): one log line and metric per mail, a run of its own after the mail's (a refusal
  ends the mail's run at its first step).

A mail that is refused, from an unknown provider, not a maintenance notice, or unparseable ends with a value
(it stays in S3, is triaged, logged and counted) and the invoke succeeds. A NetBox or S3 failure raises, so
Lambda's async retry runs the mail again; every step is idempotent, so the retry finishes the job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sesflow.mail import ParsedMail
from sesflow.notices.inbound.context import InboundDeps, InboundMail
from sesflow.notices.inbound.outcome import Outcome
from sesflow.notices.inbound.overlaps import warn_overlaps
from sesflow.notices.inbound.parser import parse
from sesflow.notices.inbound.planning import plan
from sesflow.notices.inbound.providers import pick_provider
from sesflow.notices.inbound.receipt import GateDecision, Receipt, gate, read_receipts
from sesflow.notices.inbound.report import OnOutcome, log_outcome, report
from sesflow.notices.inbound.stored import load
from sesflow.notices.inbound.triage import Finished, keep_triage, stored_at
from sesflow.notices.inbound.writes import final_status, store_mail, write_impacts, write_maintenance
from sesflow.pipeline import Pipeline

INBOUND: Pipeline[InboundMail, InboundDeps, Outcome] = Pipeline(
    "inbound",
    (
        gate,
        load,
        pick_provider,
        parse,
        plan,
        write_maintenance,
        write_impacts,
        final_status,
        warn_overlaps,
        store_mail,
    ),
)
#: A mail already in hand (a replay, the CLI's apply): its receipt is read from the mail, so no load.
IN_HAND = Pipeline("inbound", tuple(step for step in INBOUND.steps if step is not load))
#: The steps after the gate and the load (the CLI's plan, which does not gate).
AFTER_LOAD = INBOUND.after("load")
#: After the mail's steps, whatever their outcome: the triage record of a mail not applied (triage.py).
TRIAGE: Pipeline[Finished, InboundDeps, Outcome] = Pipeline("inbound", (keep_triage,))
REPORT: Pipeline[Outcome, OnOutcome, Outcome] = Pipeline("inbound", (report,))


def process_mail(receipt: Receipt, deps: InboundDeps) -> Outcome:
    """One mail through the steps; the first step that decides the outcome ends it."""
    settings = deps.settings
    location = stored_at(settings.bucket, settings.key_prefix + receipt.message_id)
    return _through(INBOUND, InboundMail(receipt, location=location), deps)


def process_in_hand(
    receipt: Receipt, mail: ParsedMail, deps: InboundDeps, *, vouched: bool = False, location: str = ""
) -> Outcome:
    """A mail already loaded, from the gate on: the operator's run (`location`: where it was read from),
    which resolves the triage entry of a mail it applies."""
    in_hand = InboundMail(receipt, mail, vouched=vouched, location=location)
    return _through(IN_HAND, in_hand, deps, resolves=True)


def process_loaded(receipt: Receipt, mail: ParsedMail, passed: GateDecision, deps: InboundDeps) -> Outcome:
    """A mail already loaded and past the gate (`passed`: its decision, or a pass when nothing gates)."""
    return _through(AFTER_LOAD, InboundMail(receipt, mail, gate=passed), deps)


def _through(
    pipeline: Pipeline[InboundMail, InboundDeps, Outcome],
    mail: InboundMail,
    deps: InboundDeps,
    *,
    resolves: bool = False,
) -> Outcome:
    outcome = pipeline.run(mail, deps)
    if outcome is None:
        raise RuntimeError("the inbound steps ended without an outcome")  # store_mail always gives one
    TRIAGE.run(Finished(mail, outcome, resolves), deps)
    return outcome


def run(event: Mapping[str, Any], deps: InboundDeps, *, on_outcome: OnOutcome = log_outcome) -> list[Outcome]:
    outcomes = [process_mail(receipt, deps) for receipt in read_receipts(event)]
    for outcome in outcomes:
        REPORT.run(outcome, on_outcome)
    return outcomes
