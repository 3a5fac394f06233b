"""What the inbound steps share: the mail on its way through them (`InboundMail`, filled in step by step)
and what they need from the outside (`InboundDeps`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sesflow.aws.store import ObjectStore
from sesflow.config import InboundSettings
from sesflow.notices.inbound.in_netbox import InboundNetBox, StoredMail
from sesflow.notices.inbound.outcome import Applied, Outcome, Result
from sesflow.notices.inbound.providers import ProviderChoice, ProviderMap

if TYPE_CHECKING:
    from sesflow.mail import ParsedMail
    from sesflow.notices.inbound.parser import ParsedMaintenance
    from sesflow.notices.inbound.plan import MaintenancePlan
    from sesflow.notices.inbound.receipt import GateDecision, Receipt
    from sesflow.notices.inbound.writes import PlanWrite


@dataclass
class InboundDeps:
    settings: InboundSettings
    store: ObjectStore
    netbox: InboundNetBox
    providers: ProviderMap = field(init=False)

    def __post_init__(self) -> None:
        self.providers = ProviderMap(self.settings.provider_map)


@dataclass
class InboundMail:
    """One mail on its way through the steps: each step fills in what the next ones read."""

    receipt: Receipt
    loaded: ParsedMail | None = None  # load: the mail as SES stored it
    vouched: bool = False  # the operator's word for a stored mail that never went through SES (see `gate`)
    gate: GateDecision | None = None  # gate
    choice: ProviderChoice | None = None  # pick_provider: whose parser reads it
    notice: ParsedMail | None = None  # pick_provider: the mail to parse (a forwarded original, or itself)
    alternatives: tuple[ParsedMail, ...] = ()  # pick_provider: the other readings parse tries when it fails
    maintenances: tuple[ParsedMaintenance, ...] = ()  # parse
    record: StoredMail | None = None  # plan: the mail as NetBox keeps it
    plans: tuple[MaintenancePlan, ...] = ()  # plan
    writes: list[PlanWrite] = field(default_factory=list)  # write_maintenance: each plan's maintenance
    location: str = ""  # where the mail is stored (s3://bucket/key, or a file), for the triage

    def ended(self, result: Result, detail: str = "") -> Outcome:
        """The outcome of a mail whose run ends at the current step."""
        provider = self.choice.provider if self.choice is not None else ""
        return Outcome(self.receipt.message_id, result, detail, provider, self.plans)

    def finished(self, result: Result, applied: tuple[Applied, ...]) -> Outcome:
        return Outcome(
            self.receipt.message_id, result, "", self.required(self.choice).provider, self.plans, applied
        )

    def required_loaded(self) -> ParsedMail:
        return self.required(self.loaded)

    def required_gate(self) -> GateDecision:
        return self.required(self.gate)

    def required_choice(self) -> ProviderChoice:
        return self.required(self.choice)

    def required_notice(self) -> ParsedMail:
        return self.required(self.notice)

    def required_record(self) -> StoredMail:
        return self.required(self.record)

    @staticmethod
    def required[T](value: T | None) -> T:
        """What an earlier step fills in; a step that runs before it is a wrongly ordered pipeline."""
        if value is None:
            raise RuntimeError("a step ran before the step that fills in what it reads")
        return value
