"""`sesflow demo`: start the local stand-ins for AWS and walk one device mail through what is built today.

Every step talks to a real server over a real socket: moto's server for the AWS APIs, SeaweedFS for an S3 that
checks signatures and expiry. What is not built yet is said plainly at the end.
"""

from __future__ import annotations

import shutil
import time
import urllib.error
import urllib.request
from importlib.resources import files
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sesflow.aws.clients import AwsClients
from sesflow.aws.ses import SesSender
from sesflow.aws.store import ObjectStore
from sesflow.local.moto_server import moto_session, start_moto_server
from sesflow.local.seaweedfs import start_seaweedfs
from sesflow.mail import iter_attachments, parse_mail, write_payload

INCOMING_BUCKET = "relay-incoming"
ATTACHMENTS_BUCKET = "relay-attachments"
SENDER = "relay@ingest.example.com"
CONFIGURATION_SET = "relay-tracking"
LINK_SECONDS = 3

BUILT = [
    ("settings (sesflow config check)", "built"),
    ("mail parsing, attachments, addresses (sesflow.mail)", "built"),
    ("S3 store, SigV4 links, SES v2 sender, SNS publisher (sesflow.aws)", "built"),
    ("NetBox client, real NetBox + netbox-notices harness (sesflow netbox check)", "built"),
    ("relay flow and handler (tested; not yet in this demo)", "built"),
    ("relay CLI: process (--dry-run), revoke, dlq (sesflow relay --help)", "built"),
    ("notices inbound / outbound / tracking flows", "not built yet"),
    ("local stack: SMTP ingress, Lambda workers, SES outbox", "not built yet"),
    ("CDK app (relay), checked offline", "built"),
    ("SAM template (notices)", "not built yet"),
]


def _status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback URL we signed
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def run_demo(console: Console, workdir: Path = Path(".sesflow/demo")) -> int:
    """Run the demo; returns the process exit code (0 when every step behaved as expected)."""
    shutil.rmtree(workdir, ignore_errors=True)
    console.rule("sesflow demo")
    moto = start_moto_server()
    seaweed = start_seaweedfs(workdir / "seaweedfs")
    try:
        console.print(f"AWS APIs (moto's server):       {moto.endpoint_url}")
        console.print(f"S3 that checks SigV4 (SeaweedFS): {seaweed.endpoint_url}\n")
        return _walk_one_mail(console, moto.endpoint_url, seaweed.clients())
    finally:
        seaweed.stop()
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _walk_one_mail(console: Console, moto_url: str, seaweed_clients: AwsClients) -> int:
    aws = AwsClients(moto_session(), endpoint_url=moto_url)
    failures = 0

    # 1. SES's receipt rule would store the raw mail under incoming/; here we put it there ourselves.
    raw = files("sesflow.local").joinpath("samples/device-mail.eml").read_bytes()
    aws.s3.create_bucket(Bucket=INCOMING_BUCKET)
    key = "incoming/demo-message-0001"
    aws.s3.put_object(Bucket=INCOMING_BUCKET, Key=key, Body=raw)
    console.print(f"[bold]1. stored[/bold] a device mail ({len(raw)} bytes) at s3://{INCOMING_BUCKET}/{key}")

    # 2. Stream it back and parse it without a second full copy in memory.
    incoming = ObjectStore(aws.s3).open(INCOMING_BUCKET, key)
    mail = parse_mail(incoming.body)
    text = mail.text_body() or ""
    subject, author = repr(mail.header("Subject")), str(mail.header("From"))
    console.print(f"[bold]2. parsed[/bold] {escape(subject)} from {escape(author)}")
    marker_line = next((line for line in text.splitlines() if "Email_Rxers_Code" in line), "(none)")
    console.print(f"   recipients line (the relay flow will read it): {escape(marker_line)}")
    console.print(f"   parser defects kept, not fatal: {sorted(mail.defect_kinds()) or 'none'}")

    # 3. Each attachment is decoded in chunks straight into an S3 upload, then shared by a SigV4 link.
    store = ObjectStore(seaweed_clients.s3)
    seaweed_clients.s3.create_bucket(Bucket=ATTACHMENTS_BUCKET)
    for attachment in iter_attachments(mail):
        target = f"demo-message-0001/{attachment.index}-{attachment.filename}"
        with store.writer(ATTACHMENTS_BUCKET, target, content_type=attachment.content_type) as sink:
            written = write_payload(attachment, sink)
        url = store.presign_get(ATTACHMENTS_BUCKET, target, LINK_SECONDS)
        console.print(
            f"[bold]3. attachment[/bold] {attachment.filename} ({written} bytes) → s3://{ATTACHMENTS_BUCKET}/{target}"
        )
        status, body = _status(url)
        console.print(f"   link valid {LINK_SECONDS}s, fetched now: HTTP {status}, first line {body[:24]!r}")
        failures += status != 200
        time.sleep(LINK_SECONDS + 1.5)
        status, _ = _status(url)
        console.print(
            f"   the same link {LINK_SECONDS + 1.5:.1f}s later: HTTP {status} (SeaweedFS checked expiry)"
        )
        failures += status != 403

    # 4. SES v2 raw send with a configuration set and a tag (moto accepts it; it delivers nothing).
    aws.sesv2.create_email_identity(EmailIdentity=SENDER)
    aws.sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    sender = SesSender(aws.sesv2, rate_source=lambda _: 1.0)
    sent = sender.send_raw(
        b"From: relay@ingest.example.com\r\nTo: shift-lead@plant.example.com\r\n"
        b"Subject: Boiler 3 hourly readings\r\n\r\nLinks would be here.\r\n",
        from_address=SENDER,
        recipients=["shift-lead@plant.example.com", "maint@plant.example.com"],
        configuration_set=CONFIGURATION_SET,
        tags={"source": "demo"},
    )
    console.print(f"[bold]4. sent[/bold] through SES v2 (moto): message id {sent.message_id}\n")

    table = Table(title="What sesflow does today")
    table.add_column("part")
    table.add_column("state")
    for part, state in BUILT:
        table.add_row(part, f"[green]{state}[/green]" if state == "built" else f"[yellow]{state}[/yellow]")
    console.print(table)
    if failures:
        console.print(f"[red]{failures} demo step(s) did not behave as expected[/red]")
    return 1 if failures else 0
