"""Mail primitives every flow uses, on the standard `email` package with `email.policy.default`:
parse (bytes or stream → `ParsedMail`, never raising), attachments (list, name, stream-decode), addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesflow.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from sesflow.mail.addresses import (
        SES_MAX_RECIPIENTS,
        AddressCheck,
        InvalidAddress,
        ValidAddress,
        check_addresses,
        chunk_recipients,
        dedupe_addresses,
        split_addresses,
        validate_address,
    )
    from sesflow.mail.attachments import (
        DEFAULT_CHUNK_SIZE,
        MAX_FILENAME_BYTES,
        Attachment,
        ByteSink,
        fallback_filename,
        iter_attachments,
        payload_size,
        safe_filename,
        transfer_encoding,
        write_payload,
    )
    from sesflow.mail.defects import MailDefect, PartPath
    from sesflow.mail.parse import (
        MAIL_POLICY,
        MailPart,
        ParsedMail,
        ReadableBytes,
        header_text,
        header_texts,
        iter_parts,
        parse_mail,
    )

#: Each name's module, loaded on first use: a flow that only checks addresses (outbound) never loads the
#: MIME parser.
_HOMES = {
    "SES_MAX_RECIPIENTS": "addresses",
    "AddressCheck": "addresses",
    "InvalidAddress": "addresses",
    "ValidAddress": "addresses",
    "check_addresses": "addresses",
    "chunk_recipients": "addresses",
    "dedupe_addresses": "addresses",
    "split_addresses": "addresses",
    "validate_address": "addresses",
    "DEFAULT_CHUNK_SIZE": "attachments",
    "MAX_FILENAME_BYTES": "attachments",
    "Attachment": "attachments",
    "ByteSink": "attachments",
    "fallback_filename": "attachments",
    "iter_attachments": "attachments",
    "payload_size": "attachments",
    "safe_filename": "attachments",
    "transfer_encoding": "attachments",
    "write_payload": "attachments",
    "MailDefect": "defects",
    "PartPath": "defects",
    "MAIL_POLICY": "parse",
    "MailPart": "parse",
    "ParsedMail": "parse",
    "ReadableBytes": "parse",
    "header_text": "parse",
    "header_texts": "parse",
    "iter_parts": "parse",
    "parse_mail": "parse",
}

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAIL_POLICY",
    "MAX_FILENAME_BYTES",
    "SES_MAX_RECIPIENTS",
    "AddressCheck",
    "Attachment",
    "ByteSink",
    "InvalidAddress",
    "MailDefect",
    "MailPart",
    "ParsedMail",
    "PartPath",
    "ReadableBytes",
    "ValidAddress",
    "check_addresses",
    "chunk_recipients",
    "dedupe_addresses",
    "fallback_filename",
    "header_text",
    "header_texts",
    "iter_attachments",
    "iter_parts",
    "parse_mail",
    "payload_size",
    "safe_filename",
    "split_addresses",
    "transfer_encoding",
    "validate_address",
    "write_payload",
]

__getattr__ = lazy_exports(__name__, _HOMES)
