"""The reliability campaign's stack: the whole local stack (moto, SMTP ingress, workers, outbox, HTTP API, the
real NetBox + netbox-notices), started once for the campaign, with taps on everything it says.

`SESFLOW_CAMPAIGN=full` runs the full sizes (`make campaign`); otherwise each campaign runs its short version.
Each campaign writes its table to `.sesflow/campaign/<name>.txt`; the tables are printed at the end.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import SESQuota, ses_backends

from sesflow.local.netbox import RunningNetBox
from sesflow.local.smtp_ingress import Credentials, IngressSettings
from sesflow.local.stack import NetBoxTarget, Stack, StackOptions, start_stack
from sesflow.resources import RESOURCES

from ..harness.fault_proxy import FaultPlan, FaultProxy
from ..netbox.conftest import netbox  # noqa: F401 - the session's real NetBox

FULL = os.environ.get("SESFLOW_CAMPAIGN", "").lower() == "full"
TABLES = Path(__file__).resolve().parents[2] / ".sesflow" / "campaign"
SMTP_USER = "AKIACAMPAIGN"
SMTP_PASSWORD = "campaign-smtp-password"
#: The relay may send only here: anything else listed in a mail is an open-relay attempt.
ALLOWED_DOMAIN = "plant.example.com"
#: Every generated mail carries one of these in its body and attachments; none may show up anywhere else.
CANARY = "sfcanary"
#: The SES send quota of the campaign's account (sends per second).
SEND_RATE = 50.0
#: A 60 s consumer timeout with a visibility factor of 1: long enough for a mail with thousands of
#: attachments, short enough that a failed message is back within the campaign.
CAMPAIGN_RESOURCES = RESOURCES.with_consumer_timeout(60, visibility_factor=1)


def size(short: int, full: int) -> int:
    return full if FULL else short


# --- what the stack says ---------------------------------------------------------------------------------

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def peek_queue(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message a queue holds, read and made visible again at once (moto answers a receive with a zero
    visibility timeout with the same first ten messages each time, so that cannot page)."""
    found: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        found += got
    for start in range(0, len(found), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(found[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    return found


class LogTap(logging.Handler):
    """Every log record of the process (the handlers' Powertools loggers propagate to the root), kept as
    text with its extra fields and traceback, so a campaign can search all of it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[dict[str, Any]] = []
        self._formatter = logging.Formatter()

    def addFilter(self, filter: Any) -> None:
        """Refused: each Powertools Logger, when created, filters its records out of every root handler (so
        Lambda's root handler does not print them twice); this tap is there to see them."""

    def emit(self, record: logging.LogRecord) -> None:
        extras = {name: value for name, value in vars(record).items() if name not in _STANDARD}
        text = f"{record.name} {record.levelname} {record.getMessage()} {json.dumps(extras, default=str)}"
        if record.exc_info:
            text += "\n" + self._formatter.formatException(record.exc_info)
        self.records.append(
            {
                "logger": record.name,
                "level": record.levelno,
                "_t": time.monotonic(),
                "message": record.getMessage(),
                **extras,
                "_": text,
            }
        )

    def texts(self) -> list[str]:
        return [record["_"] for record in list(self.records)]

    def of(self, logger: str) -> list[dict[str, Any]]:
        return [record for record in list(self.records) if record["logger"] == logger]


@dataclass
class TopicTap:
    """An SQS queue subscribed to an SNS topic: everything published there, drained into `messages`."""

    stack: Stack
    topic_arn: str
    name: str
    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        sqs = self.stack.clients.sqs
        self.url = sqs.create_queue(QueueName=self.name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.stack.clients.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=arn)

    def drain(self) -> list[dict[str, Any]]:
        sqs = self.stack.clients.sqs
        while got := sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in got:
                self.messages.append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)],
            )
        return self.messages


@dataclass
class Campaign:
    stack: Stack
    logs: LogTap
    fallback: TopicTap
    tracking: TopicTap

    def queue_depth(self, url: str) -> int:
        attributes = self.stack.clients.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def relay_dlq(self) -> int:
        return self.queue_depth(self.stack.aws.relay_queue.dlq_url)

    def inbound_failures(self) -> int:
        return self.queue_depth(self.stack.aws.inbound_failures.url)

    def relay_outcomes(self) -> dict[str, dict[str, Any]]:
        """The relay's one log line per mail, by SES message id (the last part of the S3 key)."""
        found = {}
        for record in self.logs.of("sesflow-relay"):
            if record.get("outcome") in {"relayed", "refused"} and record.get("key"):
                found[str(record["key"]).rpartition("/")[2]] = record
        return found

    def inbound_outcomes(self) -> dict[str, str]:
        found = {}
        for result in list(self.stack.inbound.results):
            if isinstance(result, dict):
                for item in result.get("results", []):
                    found[str(item["message_id"])] = str(item["result"])
        return found


def raise_send_quota(rate: float) -> None:
    """moto reports the sandbox's 1 send/s, and the relay paces its sends to it. An account that relays
    20 mails/s has had its quota raised; moto builds the quota on each call, so the call is replaced."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

    def quota() -> SESQuota:
        found = SESQuota(backend.sent_message_count)
        found.max_send_rate = rate
        return found

    backend.get_send_quota = quota  # type: ignore[method-assign]


def start_campaign(workdir: Path, netbox: RunningNetBox) -> Campaign:  # noqa: F811
    netbox.reset()
    logs = LogTap()
    logging.getLogger().addHandler(logs)
    options = StackOptions(
        workdir=workdir,
        resources=CAMPAIGN_RESOURCES,
        smtp=IngressSettings(credentials=Credentials(SMTP_USER, SMTP_PASSWORD)),
        netbox=NetBoxTarget(netbox.url, netbox.tokens.admin),
        outbound_poll_seconds=3600,  # the webhook and the campaigns' own calls drive outbound
        async_retry_delays=(0.5, 1.0),
        log_level="INFO",
        extra_environment={"ALLOWED_RECIPIENT_DOMAINS": ALLOWED_DOMAIN},
    )
    try:
        stack = start_stack(options)
    except BaseException:
        logging.getLogger().removeHandler(logs)
        raise
    raise_send_quota(SEND_RATE)
    return Campaign(
        stack,
        logs,
        TopicTap(stack, stack.aws.fallback_topic_arn, "campaign-fallback-tap"),
        TopicTap(stack, stack.aws.tracking_topic_arn, "campaign-tracking-tap"),
    )


@contextmanager
def faulty_stack(
    workdir: Path, aws_faults: FaultPlan, **options: Any
) -> Iterator[tuple[Stack, FaultProxy, LogTap]]:
    """A campaign's own stack (the shared one is stopped first: moto's state is one per process): 3 s queue
    timeouts so killed messages come back quickly, SMTP AUTH, INFO logs, its handlers reaching AWS through a
    fault proxy (quiet until enabled; pointed at moto once moto runs), and a tap on every log record.
    `options` are further `StackOptions`; `extra_environment` is added to the proxy's endpoint."""
    if "stack" in _running:
        stop_campaign(_running.pop("stack"))
    aws_proxy = FaultProxy(("127.0.0.1", 1), aws_faults).start()
    aws_proxy.enabled = False
    environment = {"AWS_ENDPOINT_URL": aws_proxy.url, **options.pop("extra_environment", {})}
    settings = StackOptions(
        workdir=workdir,
        resources=RESOURCES.with_consumer_timeout(3, visibility_factor=1),
        smtp=IngressSettings(credentials=Credentials(SMTP_USER, SMTP_PASSWORD)),
        log_level="INFO",
        extra_environment=environment,
        **options,
    )
    logs = LogTap()
    logging.getLogger().addHandler(logs)
    stack: Stack | None = None
    try:
        stack = start_stack(settings)
        host, port = stack.moto.endpoint_url.removeprefix("http://").split(":")
        aws_proxy.upstream = (host, int(port))
        yield stack, aws_proxy, logs
    finally:
        if stack is not None:
            stack.stop()
        aws_proxy.stop()
        logging.getLogger().removeHandler(logs)


def stop_campaign(campaign: Campaign) -> None:
    try:
        campaign.stack.stop()
    finally:
        logging.getLogger().removeHandler(campaign.logs)


_running: dict[str, Campaign] = {}


@pytest.fixture
def campaign(tmp_path_factory: pytest.TempPathFactory, netbox: RunningNetBox) -> Campaign:  # noqa: F811
    """One stack for every campaign in this folder, stopped as soon as the run leaves the folder.

    (A package-scoped fixture would do, but without an `__init__.py` pytest keeps it to the end of the
    session, and the stack's workers would then poll the queues of the next folder's stacks: moto's state
    is one per process.)"""
    if "stack" not in _running:
        _running["stack"] = start_campaign(tmp_path_factory.mktemp("campaign"), netbox)
    return _running["stack"]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    here = Path(__file__).parent
    if "stack" in _running and (nextitem is None or here not in nextitem.path.parents):
        stop_campaign(_running.pop("stack"))


# --- talking to it ---------------------------------------------------------------------------------------


class SmtpSession:
    """One authenticated STARTTLS session, reused for many mails as a busy device would."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.client = smtplib.SMTP(stack.ingress.host, stack.ingress.port, timeout=120)
        self.client.starttls(context=ssl.create_default_context(cafile=str(stack.ingress.cert_path)))
        self.client.ehlo()
        self.client.login(SMTP_USER, SMTP_PASSWORD)

    def send(self, raw: bytes, mail_from: str, recipients: list[str]) -> tuple[int, str]:
        """The DATA answer: (code, SES message id or the error text)."""
        self.client.rset()
        code, answer = self.client.mail(mail_from)
        if code != 250:
            return code, answer.decode(errors="replace")
        for recipient in recipients:
            code, answer = self.client.rcpt(recipient)
            if code != 250:
                return code, answer.decode(errors="replace")
        code, answer = self.client.data(crlf(raw))
        text = answer.decode(errors="replace")
        return code, text.split()[-1] if code == 250 else text

    def close(self) -> None:
        try:
            self.client.quit()
        except smtplib.SMTPException:
            self.client.close()  # the server already hung up


def crlf(raw: bytes) -> bytes:
    """SMTP's line ending: smtplib sends bytes as they are, so a bare-LF file would arrive as one line."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", raw)


def wait_until(check: Callable[[], bool], timeout: float, every: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def rss_mb() -> float:
    """This process's resident memory now (the stack and every worker live in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the tables ------------------------------------------------------------------------------------------


def table(title: str, rows: list[tuple[str, object]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [title, "-" * len(title)] + [f"{name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines) + "\n"


def write_table(name: str, text: str) -> Path:
    TABLES.mkdir(parents=True, exist_ok=True)
    path = TABLES / f"{name}.txt"
    mode = "full" if FULL else "short"
    path.write_text(f"{text}(campaign size: {mode}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    _written.append(path)
    return path


_written: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _written:
        return
    terminalreporter.section("reliability campaign")
    for path in _written:
        terminalreporter.write(path.read_text() + "\n")
