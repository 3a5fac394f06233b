"""Notices inbound: an SES receipt (Lambda action, async) → the provider's mail from S3 → NetBox.

    read_receipts → gate → load → pick_provider → parse → plan → apply → report

A mail that is refused, from an unknown provider, not a maintenance notice, or unparseable ends with a value
(it stays in S3, is logged and counted) and the invoke succeeds. A NetBox or S3 failure raises, so Lambda's
async retry runs the mail again; every step is idempotent, so the retry finishes the job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sesflow import snapstart
from sesflow.aws.clients import default_clients
from sesflow.aws.store import ObjectStore
from sesflow.config import InboundSettings, inbound_settings
from sesflow.faults import checkpoint
from sesflow.mail import ParsedMail, parse_mail
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import SUBJECT_LIMIT
from sesflow.notices.inbound_forward import inline_forward
from sesflow.notices.inbound_stored import date_of
from sesflow.notices.netbox_side import Applied, NetBoxState, StoredMail, apply_plan
from sesflow.notices.parser import GENERIC, ParsedMaintenance, ParseFailed, parse_maintenances, warm_parser
from sesflow.notices.plan import MaintenancePlan, current_of, plan_maintenance, window_names
from sesflow.notices.providers import (
    ProviderChoice,
    ProviderMap,
    UnknownProvider,
    forwarded_message,
    header_addresses,
)
from sesflow.notices.receipt import GateDecision, Receipt, UnreadableReceipt, check_gate, read_receipts

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: `email_from` is an EmailField; a bounce has an empty MAIL FROM and may have no From either.
UNKNOWN_SENDER = "unknown@sender.invalid"

logger = Logger(service="sesflow-notices-inbound")
metrics = Metrics(namespace="sesflow", service="notices-inbound")


@dataclass(frozen=True)
class Outcome:
    """What became of one mail. `result` is `applied`, `planned` (dry run), or the reason nothing was written:
    refused, unknown_provider, not_a_notice, parse_error, no_netbox_provider."""

    message_id: str
    result: str
    detail: str = ""
    provider: str = ""
    plans: tuple[MaintenancePlan, ...] = ()
    applied: tuple[Applied, ...] = ()

    def log_fields(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "result": self.result,
            "detail": self.detail[:500],
            "provider": self.provider,
            "plans": [plan.describe() for plan in self.plans],
            "applied": [
                {"maintenance_id": a.maintenance_id, "created": a.created, "changed": a.changed}
                for a in self.applied
            ],
        }


@dataclass
class InboundDeps:
    settings: InboundSettings
    store: ObjectStore
    netbox: NetBoxState
    providers: ProviderMap = field(init=False)

    def __post_init__(self) -> None:
        self.providers = ProviderMap(self.settings.provider_map)


@cache
def default_deps() -> InboundDeps:
    settings = inbound_settings()
    return InboundDeps(
        settings, ObjectStore(default_clients().s3), NetBoxState(NetBoxClient.from_settings(settings.netbox))
    )


# --- the steps -------------------------------------------------------------------------------------------


def load(receipt: Receipt, deps: InboundDeps) -> ParsedMail:
    """The raw mail SES's S3 action stored; a missing object raises (S3 may lag; the retry reads it)."""
    stored = deps.store.open(deps.settings.bucket, deps.settings.key_prefix + receipt.message_id)
    return parse_mail(stored.body)


def pick_provider(
    receipt: Receipt, mail: ParsedMail, gate: GateDecision, providers: ProviderMap
) -> tuple[ProviderChoice | UnknownProvider, ParsedMail]:
    """The provider and the mail to parse. A trusted forwarder's mail is judged by the message it carries
    (an attached message/rfc822, else an inline forwarded block); anyone else's by its own senders, header
    From first, then MAIL FROM."""
    if gate.forwarded_by is not None:
        inner = forwarded_message(mail.message) or inline_forward(mail)
        if inner is not None:
            return providers.choose(header_addresses(inner, "From"), inner), ParsedMail(inner)
    senders = [*header_addresses(mail.message, "From"), *receipt.header_senders, receipt.envelope_sender]
    return providers.choose(dict.fromkeys(senders), mail.message), mail


def netbox_provider_slug(
    provider: str, maintenances: list[ParsedMaintenance], mapping: Mapping[str, str]
) -> str:
    """NETBOX_PROVIDER_MAP (lower-case keys) or the parser's provider name. The generic iCalendar provider
    names no company, so its maintenances are mapped by the provider the iCalendar names."""
    if provider == GENERIC and maintenances:
        named = maintenances[0].provider.lower()
        return mapping.get(named) or mapping.get(GENERIC) or re.sub(r"[^a-z0-9]+", "-", named).strip("-")
    return mapping.get(provider, provider)


def plan(
    maintenances: list[ParsedMaintenance], provider: str, mail: StoredMail, deps: InboundDeps
) -> tuple[MaintenancePlan, ...]:
    """At most three reads, whatever the number of windows and circuits: the circuits (by cid and provider),
    the maintenances of every name, and — only when some exist — whether this mail is on one of them."""
    slug = netbox_provider_slug(provider, maintenances, deps.settings.netbox_provider_map)
    provider_id = deps.netbox.provider_id(slug)
    names = window_names(maintenances)
    cids = [circuit.circuit_id for m in maintenances for circuit in m.circuits]
    circuits = deps.netbox.circuits(provider_id, cids) if provider_id is not None and cids else {}
    named = deps.netbox.maintenances(names, provider_id) if provider_id is not None else {}
    holding = deps.netbox.holding_mail(mail, [item.id for known in named.values() for item in known])
    plans = []
    for maintenance, name in zip(maintenances, names, strict=True):
        known = named.get(name, [])
        plans.append(
            plan_maintenance(
                maintenance,
                name,
                provider_slug=slug,
                provider_id=provider_id,
                existing=current_of(known),
                circuits=circuits,
                mail_stored=any(item.id in holding for item in known),
                known=known,
            )
        )
    return tuple(plans)


def stored_mail(receipt: Receipt, mail: ParsedMail, sender: str) -> StoredMail:
    subject = " ".join((mail.header("Subject") or receipt.subject).split()) or "(no subject)"
    # Cut to the plugin's limit here, and strip what the cut leaves: NetBox strips stored text, and the
    # replay check compares the subject as NetBox keeps it.
    subject = subject[:SUBJECT_LIMIT].strip()
    body = (mail.text_body() or mail.html_body() or "").strip() or subject  # the plugin refuses a blank body
    # The notice's own Date, not SES's receipt time: it is in the mail itself, so a copy replayed from the
    # bucket (which keeps no receipt time) or delivered twice is recognised as the same mail.
    received = date_of(mail) or receipt.received
    return StoredMail(subject=subject, sender=sender, received=received, body=body)


def process_mail(receipt: Receipt, deps: InboundDeps, *, dry_run: bool = False) -> Outcome:
    """One mail through the steps; the first step that decides the outcome ends it."""
    settings = deps.settings
    gate = check_gate(
        receipt, require_auth=settings.require_auth, trusted_forwarders=settings.trusted_forwarders
    )
    checkpoint("inbound", "gate")
    if gate.refusal is not None:
        return Outcome(receipt.message_id, "refused", f"{gate.refusal}: {gate.detail}")
    mail = load(receipt, deps)
    checkpoint("inbound", "load")
    return process_loaded(receipt, mail, gate, deps, dry_run=dry_run)


def process_loaded(
    receipt: Receipt, mail: ParsedMail, gate: GateDecision, deps: InboundDeps, *, dry_run: bool = False
) -> Outcome:
    """The steps after the gate and the load, for a mail already in hand (the CLI's plan starts here)."""
    choice, notice = pick_provider(receipt, mail, gate, deps.providers)
    checkpoint("inbound", "pick_provider")
    if isinstance(choice, UnknownProvider):
        return Outcome(receipt.message_id, "unknown_provider", "senders: " + ", ".join(choice.senders))
    parsed = parse_maintenances(choice.provider, notice.message)
    checkpoint("inbound", "parse")
    if isinstance(parsed, ParseFailed):
        return Outcome(receipt.message_id, "parse_error", parsed.reason, choice.provider)
    if not parsed:
        return Outcome(receipt.message_id, "not_a_notice", "the parser found no maintenance", choice.provider)
    sender = choice.sender or next(iter([*receipt.header_senders, receipt.envelope_sender]), "")
    record = stored_mail(receipt, notice, sender or UNKNOWN_SENDER)
    plans = plan(parsed, choice.provider, record, deps)
    checkpoint("inbound", "plan")
    if dry_run:
        return Outcome(receipt.message_id, "planned", provider=choice.provider, plans=plans)
    if all(item.provider_id is None for item in plans):
        detail = f"NetBox has no provider with slug {plans[0].provider_slug!r} (see NETBOX_PROVIDER_MAP)"
        return Outcome(receipt.message_id, "no_netbox_provider", detail, choice.provider, plans)
    results = tuple(apply_plan(deps.netbox, item, record) for item in plans)
    return Outcome(receipt.message_id, "applied", "", choice.provider, plans, results)


def report(outcome: Outcome) -> None:
    logger.info("inbound mail", extra=outcome.log_fields())
    metrics.add_metric(name=f"inbound_{outcome.result}", unit=MetricUnit.Count, value=1)


def run(
    event: Mapping[str, Any], deps: InboundDeps, *, on_outcome: Callable[[Outcome], None] = report
) -> list[Outcome]:
    outcomes = [process_mail(receipt, deps) for receipt in read_receipts(event)]
    for outcome in outcomes:
        on_outcome(outcome)
        checkpoint("inbound", "report")
    return outcomes


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda shell (contract path). Raises on transient failures: SES invokes asynchronously, so Lambda
    retries and finally uses the on-failure destination."""
    try:
        outcomes = run(event, default_deps())
    except UnreadableReceipt as error:
        # Not an SES receipt: a retry would read the same event, so it is reported and not raised.
        logger.warning("inbound event unreadable", extra={"reason": str(error)})
        metrics.add_metric(name="inbound_unreadable_event", unit=MetricUnit.Count, value=1)
        return {"results": [], "error": str(error)}
    return {"results": [{"message_id": o.message_id, "result": o.result} for o in outcomes]}


snapstart.register_handler(__name__, settings=inbound_settings, deps=default_deps, warm=warm_parser)
