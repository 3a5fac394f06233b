"""What SES accepted, read on the wire: a WSGI layer in front of moto's server that sees every send request
and its answer. moto keeps the mail but drops the configuration set and the tags, which SES's event
publishing needs; the request still carries them, so they are taken from there."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses, parseaddr
from typing import Any
from urllib.parse import parse_qs

type WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_V2_SEND_PATH = "/v2/email/outbound-emails"
_V1_SEND_ACTIONS = frozenset({"SendRawEmail", "SendEmail"})
_SES_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[a-z0-9-]+/ses/aws4_request")
_V1_MESSAGE_ID = re.compile(rb"<MessageId>([^<]+)</MessageId>")


@dataclass(frozen=True)
class AcceptedMail:
    """One send SES (moto) answered with a message id, with what the request asked for."""

    message_id: str
    source: str
    destinations: tuple[str, ...]
    raw: bytes
    configuration_set: str | None
    tags: dict[str, str] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


def _v2_request(body: bytes) -> tuple[str, tuple[str, ...], bytes, str | None, dict[str, str]]:
    request = json.loads(body)
    destination = request.get("Destination") or {}
    recipients = tuple(
        address
        for kind in ("ToAddresses", "CcAddresses", "BccAddresses")
        for address in destination.get(kind) or ()
    )
    content = request.get("Content") or {}
    source = str(request.get("FromEmailAddress") or "")
    if "Raw" in content:
        raw = base64.b64decode(content["Raw"]["Data"])
    else:
        raw = _simple_mail(source, destination, content.get("Simple") or {})
    if not recipients:  # a raw send may name its recipients only in the headers
        recipients = _header_recipients(raw)
    if not source:
        source = _header_from(raw)
    tags = {str(tag["Name"]): str(tag["Value"]) for tag in request.get("EmailTags") or ()}
    return source, recipients, raw, request.get("ConfigurationSetName"), tags


def _v1_request(form: dict[str, list[str]]) -> tuple[str, tuple[str, ...], bytes, str | None, dict[str, str]]:
    def members(prefix: str) -> list[str]:
        numbered = sorted(
            (int(key[len(prefix) :]), values[0]) for key, values in form.items() if key.startswith(prefix)
        )
        return [value for _, value in numbered]

    if "RawMessage.Data" in form:
        raw = base64.b64decode(form["RawMessage.Data"][0])
        recipients = tuple(members("Destinations.member.")) or _header_recipients(raw)
    else:
        destination = {
            "ToAddresses": members("Destination.ToAddresses.member."),
            "CcAddresses": members("Destination.CcAddresses.member."),
            "BccAddresses": members("Destination.BccAddresses.member."),
        }
        simple = {
            "Subject": {"Data": form.get("Message.Subject.Data", [""])[0]},
            "Body": {"Text": {"Data": form.get("Message.Body.Text.Data", [""])[0]}},
        }
        raw = _simple_mail(form.get("Source", [""])[0], destination, simple)
        recipients = tuple(a for kind in destination.values() for a in kind)
    source = form.get("Source", [""])[0] or _header_from(raw)
    names = [
        (int(key.split(".")[2]), values[0])
        for key, values in form.items()
        if key.startswith("Tags.member.") and key.endswith(".Name")
    ]
    tags = {name: form.get(f"Tags.member.{n}.Value", [""])[0] for n, name in sorted(names)}
    return source, recipients, raw, form.get("ConfigurationSetName", [None])[0], tags


def _simple_mail(source: str, destination: dict[str, Any], simple: dict[str, Any]) -> bytes:
    """The MIME a simple (non-raw) send turns into, as SES builds it."""
    message = EmailMessage()
    message["From"] = source
    if to := destination.get("ToAddresses"):
        message["To"] = ", ".join(to)
    if cc := destination.get("CcAddresses"):
        message["Cc"] = ", ".join(cc)
    message["Subject"] = str((simple.get("Subject") or {}).get("Data") or "")
    body = simple.get("Body") or {}
    text = (body.get("Text") or {}).get("Data")
    html = (body.get("Html") or {}).get("Data")
    message.set_content(str(text or ""))
    if html:
        message.add_alternative(str(html), subtype="html")
    return message.as_bytes(policy=SMTP)


def _header_recipients(raw: bytes) -> tuple[str, ...]:
    parsed = message_from_bytes(raw)
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in parsed.get_all(name) or ()]
    return tuple(address for _, address in getaddresses(values) if address)


def _header_from(raw: bytes) -> str:
    return parseaddr(str(message_from_bytes(raw).get("From") or ""))[1]


def read_send(environ: dict[str, Any], body: bytes, answer: bytes) -> AcceptedMail | None:
    """The accepted mail if this request/answer pair was a successful SES send, else None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    path = str(environ.get("PATH_INFO") or "")
    if path == _V2_SEND_PATH:
        source, recipients, raw, config_set, tags = _v2_request(body)
        message_id = str(json.loads(answer)["MessageId"])
    elif path == "/" and _SES_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION") or "")):
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        if form.get("Action", [""])[0] not in _V1_SEND_ACTIONS:
            return None
        found = _V1_MESSAGE_ID.search(answer)
        if found is None:
            return None
        message_id = found.group(1).decode()
        source, recipients, raw, config_set, tags = _v1_request(form)
    else:
        return None
    return AcceptedMail(message_id, source, recipients, raw, config_set or None, tags)


class SendRecorder:
    """WSGI middleware: passes every request to moto unchanged; after a successful SES send, hands the
    accepted mail to `on_accepted` (the outbox). Other requests are not read at all."""

    def __init__(self, app: WsgiApp, on_accepted: Callable[[AcceptedMail], None]) -> None:
        self.app = app
        self.on_accepted = on_accepted

    def _may_be_send(self, environ: dict[str, Any]) -> bool:
        if environ.get("REQUEST_METHOD") != "POST":
            return False
        path = environ.get("PATH_INFO")
        return path == _V2_SEND_PATH or (
            path == "/" and bool(_SES_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION") or "")))
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self._may_be_send(environ):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []

        def recording_start_response(
            code: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> object:
            status.append(code)
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        answer = b"".join(self.app(environ, recording_start_response))
        if status and status[0].startswith("200"):
            accepted = read_send(environ, body, answer)
            if accepted is not None:
                self.on_accepted(accepted)
        return [answer]
