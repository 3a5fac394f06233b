"""Step 3, gate: SES's verdicts and the sender policy decide whether a mail may be relayed at all."""

from __future__ import annotations

from dataclasses import dataclass

from sesflow.mail import ParsedMail
from sesflow.mail.addresses import ValidAddress, check_addresses, validate_address
from sesflow.relay.outcomes import Refusal


@dataclass(frozen=True)
class GateDecision:
    sender: str | None
    refusal: Refusal | None = None
    detail: str = ""

    @property
    def quarantine(self) -> bool:
        return self.refusal is Refusal.VIRUS


def _verdict(mail: ParsedMail, header: str) -> str:
    # SES prepends its headers, so the first one is SES's; a copy further down came from the sender.
    return (mail.header(header) or "").strip().upper()


def sender_address(mail: ParsedMail) -> str | None:
    check = check_addresses(mail.header("From") or "")
    return check.addresses[0] if check.valid else None


def sender_allowed(sender: str, allowed: tuple[str, ...]) -> bool:
    """Allowed entries are whole addresses or `@domain` (that domain exactly); none means anyone."""
    if not allowed:
        return True
    address = sender.casefold()
    domain = "@" + address.rpartition("@")[2]
    return address in allowed or domain in allowed


def check_gate(mail: ParsedMail, *, allowed_senders: tuple[str, ...], relay_spam: bool) -> GateDecision:
    sender = sender_address(mail)
    if _verdict(mail, "X-SES-Virus-Verdict") == "FAIL":
        return GateDecision(sender, Refusal.VIRUS, "SES virus verdict FAIL")
    if _verdict(mail, "X-SES-Spam-Verdict") == "FAIL" and not relay_spam:
        return GateDecision(sender, Refusal.SPAM, "SES spam verdict FAIL (set RELAY_SPAM=true to relay it)")
    if sender is None:
        shown = (mail.header("From") or "")[:200]  # a sender controls this text: never carry it whole
        return GateDecision(None, Refusal.NO_SENDER, f"no valid From address: {shown!r}")
    if not sender_allowed(sender, allowed_senders):
        return GateDecision(sender, Refusal.SENDER_NOT_ALLOWED, f"{sender} is not in ALLOWED_SENDERS")
    return GateDecision(sender)


def split_by_domain(
    recipients: tuple[str, ...], allowed_domains: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """(allowed, refused): no open relay, mail goes only to the configured domains (none = any)."""
    if not allowed_domains:
        return list(recipients), []
    allowed: list[str] = []
    refused: list[str] = []
    for address in recipients:
        domain = address.rpartition("@")[2].casefold()
        (allowed if domain in allowed_domains else refused).append(address)
    return allowed, refused


def envelope_addresses(recipients: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(sendable, refused): SES wants internationalised domains in punycode and cannot send to a non-ASCII
    local part (no SMTPUTF8), so those addresses are left out and reported."""
    sendable: list[str] = []
    refused: list[str] = []
    for address in recipients:
        checked = validate_address(address)
        if isinstance(checked, ValidAddress) and checked.ascii_address is not None:
            sendable.append(checked.ascii_address)
        else:
            refused.append(address)
    return sendable, refused
