"""The `plan` step: what NetBox holds for the mail's windows, read in at most four requests, and the rules
of `plan.py` applied to it. The mail is described here as NetBox will keep it, since the reads look for it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sesflow.netbox.notices import SUBJECT_LIMIT
from sesflow.notices.inbound.headers import date_of
from sesflow.notices.inbound.in_netbox import InboundNetBox, StoredMail
from sesflow.notices.inbound.outcome import Result
from sesflow.notices.inbound.parser import GENERIC, ParsedMaintenance
from sesflow.notices.inbound.plan import (
    MaintenancePlan,
    NameInNetBox,
    current_of,
    plan_maintenance,
    window_names,
)

if TYPE_CHECKING:
    from sesflow.mail import ParsedMail
    from sesflow.notices.inbound.context import InboundDeps, InboundMail
    from sesflow.notices.inbound.outcome import Outcome
    from sesflow.notices.inbound.receipt import Receipt

#: `email_from` is an EmailField; a bounce has an empty MAIL FROM and may have no From either.
UNKNOWN_SENDER = "unknown@sender.invalid"


def plan(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """A plan per window; a mail none of whose windows has a NetBox provider ends here."""
    choice = mail.required_choice()
    receipt = mail.receipt
    sender = choice.sender or next(iter([*receipt.header_senders, receipt.envelope_sender]), "")
    mail.record = stored_mail(receipt, mail.required_notice(), sender or UNKNOWN_SENDER)
    slug = netbox_provider_slug(choice.provider, mail.maintenances, deps.settings.netbox_provider_map)
    mail.plans = plan_windows(mail.maintenances, slug, mail.record, deps.netbox)
    if all(item.provider_id is None for item in mail.plans):
        detail = f"NetBox has no provider with slug {slug!r} (see NETBOX_PROVIDER_MAP)"
        return mail.ended(Result.NO_NETBOX_PROVIDER, detail)
    return None


def plan_windows(
    maintenances: Sequence[ParsedMaintenance], slug: str, record: StoredMail, netbox: InboundNetBox
) -> tuple[MaintenancePlan, ...]:
    """At most four reads, whatever the number of windows and circuits: the circuits (by cid and provider),
    — only when some cid is not found — the circuits that match one up to case and whitespace, the
    maintenances of every name, and — only when some exist — whether this mail is on one of them."""
    provider_id = netbox.provider_id(slug)
    names = window_names(maintenances)
    cids = [circuit.circuit_id for m in maintenances for circuit in m.circuits]
    circuits, spellings = find_circuits(netbox, provider_id, cids)
    named = netbox.maintenances(names, provider_id) if provider_id is not None else {}
    holding = netbox.holding_mail(record, [item.id for known in named.values() for item in known])
    plans = []
    for maintenance, name in zip(maintenances, names, strict=True):
        known = named.get(name, [])
        in_netbox = NameInNetBox(
            slug,
            provider_id,
            circuits,
            spellings,
            existing=current_of(known),
            known=known,
            mail_stored=any(item.id in holding for item in known),
        )
        plans.append(plan_maintenance(maintenance, name, in_netbox))
    return tuple(plans)


def find_circuits(
    netbox: InboundNetBox, provider_id: int | None, cids: Sequence[str]
) -> tuple[dict[str, int], dict[str, str]]:
    """({cid as the mail names it: circuit id}, {cid in the mail: cid in NetBox} for the loose matches): the
    exact cid within the provider first; the cids not found are matched up to case and whitespace, in one
    more request."""
    if provider_id is None or not cids:
        return {}, {}
    circuits = netbox.circuits(provider_id, list(cids))
    missing = [cid for cid in dict.fromkeys(cids) if cid not in circuits]
    loose = netbox.circuits_loosely(provider_id, missing) if missing else {}
    circuits |= {cid: circuit_id for cid, (circuit_id, _) in loose.items()}
    return circuits, {cid: spelled for cid, (_, spelled) in loose.items()}


def netbox_provider_slug(
    provider: str, maintenances: Sequence[ParsedMaintenance], mapping: Mapping[str, str]
) -> str:
    """NETBOX_PROVIDER_MAP (lower-case keys) or the parser's provider name. The generic iCalendar provider
    names no company, so its maintenances are mapped by the provider the iCalendar names."""
    if provider == GENERIC and maintenances:
        named = maintenances[0].provider.lower()
        return mapping.get(named) or mapping.get(GENERIC) or re.sub(r"[^a-z0-9]+", "-", named).strip("-")
    return mapping.get(provider, provider)


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
