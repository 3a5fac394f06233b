"""Decoding a large attachment: streamed into a sink in chunks, against the stdlib's decode into one bytes."""

from __future__ import annotations

import base64
import os
import time
import tracemalloc
from collections.abc import Callable
from email.message import EmailMessage

from sesflow.mail import iter_attachments, parse_mail, write_payload

SIZE = 20 * 1024 * 1024


class CountingSink:
    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes, /) -> int:
        self.written += len(data)
        return len(data)


def mail_with_attachment(size: int) -> bytes:
    body = base64.encodebytes(os.urandom(size))
    head = (
        b"From: gw@plant.example.com\r\nTo: relay@ingest.example.com\r\nSubject: dump\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="dump.bin"\r\n\r\n'
    )
    return head + body + b"--b--\r\n"


def measure(action: Callable[[], None]) -> tuple[float, int]:
    """Seconds taken and peak bytes allocated while it ran."""
    tracemalloc.start()
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak


def run() -> list[tuple[str, str]]:
    mail = parse_mail(mail_with_attachment(SIZE))
    [attachment] = list(iter_attachments(mail))
    part: EmailMessage = attachment.part

    def stdlib_decode() -> None:
        content = part.get_content()
        assert len(content) == SIZE

    def streamed_decode() -> None:
        sink = CountingSink()
        assert write_payload(attachment, sink) == SIZE

    base_time, base_peak = measure(stdlib_decode)
    our_time, our_peak = measure(streamed_decode)
    mib = 1024 * 1024
    return [
        ("attachment", f"{SIZE // mib} MiB, base64"),
        ("stdlib get_content() (baseline)", f"{base_time:.2f} s, peak {base_peak / mib:.1f} MiB"),
        (
            "write_payload() to a sink, 64 KiB chunks",
            f"{our_time:.2f} s = {our_time / base_time:.2f}x, peak {our_peak / mib:.2f} MiB"
            f" = {our_peak / base_peak:.3f}x",
        ),
    ]
