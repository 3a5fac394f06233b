"""Mail primitives every flow uses, on the standard `email` package with `email.policy.default`:
parse (bytes or stream → `ParsedMail`, never raising), attachments (list, name, stream-decode), addresses."""

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
