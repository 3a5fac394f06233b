"""`sesflow demo`: start the local stand-ins for AWS and walk one device mail through what is built today.

Every step talks to a real server over a real socket: moto's server for SES, SNS and DynamoDB, SeaweedFS
for an S3 that checks signatures and expiry. What is not built yet is said plainly at the end.
"""

from __future__ import annotations

import email
import shutil
import time
import urllib.error
import urllib.request
import warnings
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from importlib.resources import files
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sesflow.aws.clients import AwsClients
from sesflow.aws.ses import SesSender, account_send_rate
from sesflow.aws.sns import Publisher
from sesflow.aws.store import ObjectStore
from sesflow.config import Flow, load_settings
from sesflow.local.moto_server import LOCAL_CREDENTIALS, moto_session, start_moto_server
from sesflow.local.seaweedfs import start_seaweedfs
from sesflow.mail import parse_mail
from sesflow.relay.distribute import RelayDeps, Relayed, process_message
from sesflow.relay.distribute import logger as relay_logger
from sesflow.relay.links import LinkSigner
from sesflow.relay.preview import preview
from sesflow.relay.records import MailLocation, notification_for

INCOMING_BUCKET = "relay-incoming"
ATTACHMENTS_BUCKET = "relay-attachments"
SENDER = "relay@ingest.example.com"
CONFIGURATION_SET = "relay-tracking"
LINK_SECONDS = 3
IDEMPOTENCY_TABLE = "sesflow-idempotency"
DEFAULT_REGION = LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"]

BUILT = [
    ("settings (sesflow config check)", "built"),
    ("mail parsing, attachments, addresses (sesflow.mail)", "built"),
    ("S3 store, SigV4 links, SES v2 sender, SNS publisher (sesflow.aws)", "built"),
    ("NetBox client, real NetBox + netbox-notices harness (sesflow netbox check)", "built"),
    ("relay flow and handler (steps 2-5 above)", "built"),
    ("relay CLI: process (--dry-run), revoke, dlq (sesflow relay --help)", "built"),
    ("notices inbound flow against the real NetBox (tested; not yet in this demo)", "built"),
    ("notices outbound / tracking flows", "not built yet"),
    ("local stack: SMTP ingress, Lambda workers, SES outbox", "not built yet"),
    ("CDK app (relay), checked offline", "built"),
    ("SAM template (notices)", "not built yet"),
]


def _relay_deps(aws: AwsClients, s3: AwsClients) -> RelayDeps:
    """The relay wired to moto (SES, SNS, DynamoDB) and SeaweedFS (S3), with links that live a few seconds."""
    aws.sesv2.create_email_identity(EmailIdentity=SENDER)
    aws.sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    aws.dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic = aws.sns.create_topic(Name="relay-fallback")["TopicArn"]
    settings = load_settings(
        Flow.RELAY,
        {
            "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
            "INCOMING_BUCKET": INCOMING_BUCKET,
            "ATTACHMENTS_BUCKET": ATTACHMENTS_BUCKET,
            "SENDER_EMAIL": SENDER,
            "SNS_TOPIC": topic,
            "CONFIGURATION_SET": CONFIGURATION_SET,
            "PRESIGNED_EXPIRATION": str(LINK_SECONDS),
        },
    )
    store = ObjectStore(s3.s3)
    return RelayDeps(
        settings=settings,
        store=store,
        signer=LinkSigner(store, timedelta(seconds=LINK_SECONDS), s3.session.get_credentials()),
        sender=SesSender(aws.sesv2, rate_source=lambda sesv2: account_send_rate(sesv2, aws.ses_v1)),
        publisher=Publisher(aws.sns),
        persistence=DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=aws.dynamodb),
    )


def _sent_mails() -> list[Any]:
    # moto keeps what SES v2 accepted in its in-process backend; SES delivery itself is the outbox's job.
    return list(ses_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION].sent_messages)


def _last_sent_mail() -> EmailMessage:
    parsed = email.message_from_string(_sent_mails()[-1].raw_data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback URL we signed
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def run_demo(console: Console, workdir: Path = Path(".sesflow/demo")) -> int:
    """Run the demo; returns the process exit code (0 when every step behaved as expected)."""
    shutil.rmtree(workdir, ignore_errors=True)
    # The relay's structured log lines are for CloudWatch; here the demo narrates instead.
    relay_logger.setLevel("WARNING")
    warnings.filterwarnings("ignore", "Couldn't determine the remaining time left", UserWarning)
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
    s3 = seaweed_clients
    failures = 0

    # 1. SES's receipt rule would store the raw mail under incoming/; here we put it there ourselves.
    raw = files("sesflow.local").joinpath("samples/device-mail.eml").read_bytes()
    for bucket in (INCOMING_BUCKET, ATTACHMENTS_BUCKET):
        s3.s3.create_bucket(Bucket=bucket)
    key = "incoming/demo-message-0001"
    etag = s3.s3.put_object(Bucket=INCOMING_BUCKET, Key=key, Body=raw)["ETag"].strip('"')
    location = MailLocation(INCOMING_BUCKET, key, len(raw), etag)
    console.print(f"[bold]1. stored[/bold] a device mail ({len(raw)} bytes) at {location.uri}")

    # 2. What the relay will do, computed without writing anything (sesflow relay process --dry-run).
    deps = _relay_deps(aws, s3)
    plan = preview(
        parse_mail(ObjectStore(s3.s3).open(INCOMING_BUCKET, key).body), location.message_id, deps.settings
    )
    console.print(f"[bold]2. planned[/bold] {escape(repr(plan.subject))} from {escape(str(plan.sender))}:")
    console.print(f"   recipients from the Email_Rxers_Code line: {escape(', '.join(plan.recipients))}")
    for item in plan.attachments:
        console.print(
            f"   attachment {escape(item.filename)} ({item.size} bytes) → {escape(item.destination)}"
        )
    console.print(f"   parser defects kept, not fatal: {', '.join(plan.defects) or 'none'}")

    # 3. The relay itself, as its Lambda function runs it for one SQS message.
    [outcome] = process_message(notification_for(location), deps)
    if not isinstance(outcome, Relayed):
        console.print(f"[red]not relayed: {outcome}[/red]")
        return 1
    ids = ", ".join(chunk.message_id for chunk in outcome.chunks)
    console.print(f"[bold]3. relayed[/bold] to {len(outcome.recipients)} recipients in one SES send ({ids})")

    # 4. What SES was given: the device's text without the recipients line, and a link per attachment.
    sent = _last_sent_mail()
    text = sent.get_body(preferencelist=("plain",))
    body = text.get_content() if text is not None else ""
    console.print("[bold]4. the relayed mail[/bold] (From, Reply-To, Subject, text):")
    for header in ("From", "Reply-To", "Subject"):
        console.print(f"   {header}: {escape(str(sent[header]))}")
    for line in body.splitlines():
        console.print(f"   | {escape(line)}", soft_wrap=True)
    links = [line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("- ") and "http" in line]
    for url in links:
        status, content = _status(url)
        console.print(f"   link fetched now: HTTP {status}, first line {content[:24]!r}")
        failures += status != 200
    time.sleep(LINK_SECONDS + 1.5)
    for url in links:
        status, _ = _status(url)
        console.print(
            f"   the same link {LINK_SECONDS + 1.5:.1f}s later: HTTP {status} (SeaweedFS checked its expiry)"
        )
        failures += status != 403
    failures += not links

    # 5. SQS delivers at least once: the same message again must not send again.
    sends_before = len(_sent_mails())
    process_message(notification_for(location), deps)
    again = len(_sent_mails()) - sends_before
    console.print(
        f"[bold]5. redelivered[/bold] the same SQS message: {again} new send(s) (idempotency record)\n"
    )
    failures += again != 0

    table = Table(title="What sesflow does today")
    table.add_column("part")
    table.add_column("state")
    for part, state in BUILT:
        table.add_row(part, f"[green]{state}[/green]" if state == "built" else f"[yellow]{state}[/yellow]")
    console.print(table)
    if failures:
        console.print(f"[red]{failures} demo step(s) did not behave as expected[/red]")
    return 1 if failures else 0
