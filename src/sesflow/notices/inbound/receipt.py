"""The SES receipt event (Lambda action) as a typed record, and the gate step that decides on its verdicts
whether a mail may change NetBox. The event carries verdicts and headers but never the body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes import SESEvent

from sesflow.notices.inbound.outcome import Result

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.ses_event import SESEventRecord

    from sesflow.notices.inbound.context import InboundDeps, InboundMail
    from sesflow.notices.inbound.outcome import Outcome

#: The receipt's verdicts, by the names the event gives them (`spfVerdict`, …).
VERDICTS = ("spf", "dkim", "dmarc", "virus", "spam")


class UnreadableReceipt(ValueError):
    """The event is not an SES receipt record; retrying cannot help."""


@dataclass(frozen=True)
class Receipt:
    message_id: str  # also the S3 object key after S3_KEY_PREFIX
    received: datetime  # SES's receipt time
    envelope_sender: str  # MAIL FROM (lower case; "" for bounces)
    header_senders: tuple[str, ...]  # the From addresses SES read from the headers
    subject: str
    verdicts: Mapping[str, str]  # spf, dkim, dmarc, virus, spam → PASS, FAIL, GRAY, PROCESSING_FAILED


def read_receipts(event: Mapping[str, Any]) -> list[Receipt]:
    """Each record of the event as a `Receipt`, read through Powertools' SES event data class."""
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        raise UnreadableReceipt("the event has no Records")
    return [read_receipt(record) for record in SESEvent(dict(event)).records]


def read_receipt(record: SESEventRecord) -> Receipt:
    if record.get("eventSource") != "aws:ses":
        raise UnreadableReceipt(f"not an SES record: eventSource={record.get('eventSource')!r}")
    try:
        mail = record.ses.mail
        receipt = record.ses.receipt
        # Only messageId, timestamp and the receipt are sure to be there: the rest is read with defaults.
        common = mail.get("commonHeaders") or {}
        froms = [address.lower() for _, address in getaddresses(common.get("from") or []) if "@" in address]
        return Receipt(
            message_id=str(mail.message_id),
            received=datetime.fromisoformat(str(mail.timestamp).replace("Z", "+00:00")),
            envelope_sender=str(mail.get("source") or "").lower(),
            header_senders=tuple(froms),
            subject=str(common.get("subject") or ""),
            verdicts={
                name: str((receipt.get(f"{name}Verdict") or {}).get("status", "")).upper()
                for name in VERDICTS
            },
        )
    except (KeyError, TypeError, ValueError) as error:
        raise UnreadableReceipt(f"malformed SES record: {error!r}") from error


class Refusal(StrEnum):
    VIRUS = "virus"
    NOT_AUTHENTICATED = "not_authenticated"
    DMARC_FAIL = "dmarc_fail"


@dataclass(frozen=True)
class GateDecision:
    refusal: Refusal | None
    detail: str
    forwarded_by: str | None  # a trusted forwarder: the provider is then judged by the mail it forwarded


def check_gate(receipt: Receipt, *, require_auth: bool, trusted_forwarders: tuple[str, ...]) -> GateDecision:
    """Virus FAIL is always refused. With `require_auth`, SPF or DKIM must PASS and DMARC must not FAIL.

    The verdicts are about whoever handed the mail to SES; for a trusted forwarder that is the forwarder,
    and only then is the original sender inside the mail believed."""
    verdicts = receipt.verdicts
    forwarder = next(
        (s for s in (*receipt.header_senders, receipt.envelope_sender) if _matches(s, trusted_forwarders)),
        None,
    )
    if verdicts["virus"] == "FAIL":
        return GateDecision(Refusal.VIRUS, "SES virus verdict FAIL", forwarder)
    if require_auth:
        if verdicts["spf"] != "PASS" and verdicts["dkim"] != "PASS":
            detail = (
                f"neither SPF ({verdicts['spf'] or 'none'}) nor DKIM ({verdicts['dkim'] or 'none'}) passed"
            )
            return GateDecision(Refusal.NOT_AUTHENTICATED, detail, forwarder)
        if verdicts["dmarc"] == "FAIL":
            return GateDecision(Refusal.DMARC_FAIL, "SES DMARC verdict FAIL", forwarder)
    return GateDecision(None, "", forwarder)


def _matches(address: str, rules: tuple[str, ...]) -> bool:
    """Rules are whole addresses or `@domain` (that domain exactly), lower case as config gives them."""
    if not address:
        return False
    return address in rules or "@" + address.rpartition("@")[2] in rules


def gate(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The first step: a refused mail ends here (it stays in S3, logged and counted). `vouched` (the
    operator's word for a stored mail that never went through SES) lifts the authentication requirement,
    never the virus verdict."""
    settings = deps.settings
    mail.gate = check_gate(
        mail.receipt,
        require_auth=settings.require_auth and not mail.vouched,
        trusted_forwarders=settings.trusted_forwarders,
    )
    if mail.gate.refusal is not None:
        return mail.ended(Result.REFUSED, f"{mail.gate.refusal}: {mail.gate.detail}")
    return None
