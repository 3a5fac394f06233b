"""Parsing real provider mail: sesflow.mail against the bare standard library on the same mails."""

from __future__ import annotations

import email
import time
from email import policy
from email.message import EmailMessage

from benchmarks import CORPUS
from sesflow.mail import parse_mail

ROUNDS = 5


def corpus() -> list[bytes]:
    mails = [path.read_bytes() for path in sorted(CORPUS.rglob("*.eml"))]
    if not mails:
        raise SystemExit(f"no .eml files under {CORPUS}")
    return mails


def stdlib_read(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    for subtype in ("plain", "html"):
        body = message.get_body(preferencelist=(subtype,))
        if body is not None:
            try:
                body.get_content()
            except (LookupError, ValueError):
                continue


def sesflow_read(raw: bytes) -> None:
    mail = parse_mail(raw)
    mail.text_body()
    mail.html_body()
    mail.defect_kinds()


def best_of(mails: list[bytes], read: object) -> float:
    assert callable(read)
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for raw in mails:
            read(raw)
        timings.append(time.perf_counter() - started)
    return min(timings)


def run() -> list[tuple[str, str]]:
    mails = corpus()
    baseline = best_of(mails, stdlib_read)
    ours = best_of(mails, sesflow_read)
    per_mail = 1000 * ours / len(mails)
    return [
        ("mails (real provider notices)", f"{len(mails)}, {sum(map(len, mails)) // 1024} KiB"),
        ("stdlib parse + bodies (baseline)", f"{1000 * baseline / len(mails):.2f} ms/mail"),
        ("sesflow.mail parse + bodies + defects", f"{per_mail:.2f} ms/mail = {ours / baseline:.2f}x stdlib"),
    ]
