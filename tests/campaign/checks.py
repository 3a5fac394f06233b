"""Checks the campaigns share: what a relayed mail may look like, where attachments may be stored, and
where content may never appear."""

from __future__ import annotations

import json
from collections.abc import Iterable
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

from sesflow.local.ses_wire import AcceptedMail

from .conftest import ALLOWED_DOMAIN, CANARY, Campaign

#: The headers a relayed mail may carry at its top: what compose writes, nothing copied from the device.
RELAYED_HEADERS = frozenset(
    {
        "from",
        "to",
        "subject",
        "reply-to",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


class _ActiveMarkup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "iframe", "object", "embed"}:
            self.found.append(f"<{tag}>")
        self.found += [f"{tag}[{name}]" for name, _ in attrs if name.lower().startswith("on")]


def active_markup(html: str) -> list[str]:
    """Script elements and event-handler attributes in an HTML document."""
    parser = _ActiveMarkup()
    parser.feed(html)
    parser.close()
    return parser.found


def parsed(mail: AcceptedMail) -> EmailMessage:
    message = message_from_bytes(mail.raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def relayed_mail_problems(mail: AcceptedMail) -> list[str]:
    """What is wrong with one mail the relay sent (empty when nothing is)."""
    problems = []
    outside = [address for address in mail.destinations if not address.lower().endswith("@" + ALLOWED_DOMAIN)]
    if outside:
        problems.append(f"sent outside {ALLOWED_DOMAIN}: {outside}")
    message = parsed(mail)
    extra = {name.lower() for name in message} - RELAYED_HEADERS
    if extra:
        problems.append(f"headers beyond the relay's own: {sorted(extra)}")
    if str(message["To"]) != "undisclosed-recipients:;":
        problems.append(f"To: {message['To']!r}")
    for name, value in message.items():
        if "\r" in str(value) or "\n" in str(value):
            problems.append(f"line break in {name}")
    return problems


def html_bodies(mail: AcceptedMail) -> list[str]:
    return [
        str(part.get_content())
        for part in parsed(mail).walk()
        if part.get_content_type() == "text/html" and not part.is_attachment()
    ]


def key_problems(key: str, message_ids: set[str]) -> list[str]:
    """`{messageId}/{n}-{safe name}`: under a mail that was received, one level deep, no climbing."""
    folder, separator, name = key.partition("/")
    problems = []
    if not separator or folder not in message_ids:
        problems.append(f"{key!r} is not under a received mail's id")
    if "/" in name or "\\" in name or name.startswith(".") or name.split("-", 1)[-1] in {"", ".", ".."}:
        problems.append(f"{key!r} climbs or hides")
    return problems


def attachment_keys(campaign: Campaign) -> list[str]:
    s3 = campaign.stack.clients.s3
    bucket = campaign.stack.resources.relay.attachments.name
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def canary_sightings(texts: Iterable[str]) -> list[str]:
    """Every text that holds a canary: mail content where only metadata may be."""
    return [text[:300] for text in texts if CANARY in text]


def everything_said(campaign: Campaign) -> dict[str, list[str]]:
    """Logs, fallback notices and SES events, as text, by where they were seen."""
    return {
        "logs": campaign.logs.texts(),
        "fallback notices": [json.dumps(item, ensure_ascii=False) for item in campaign.fallback.drain()],
        "ses events": [json.dumps(item, ensure_ascii=False) for item in campaign.tracking.drain()],
    }
