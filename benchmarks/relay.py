"""The relay on a 40 MB mail in a fresh process: wall time against the I/O floor, and peak RSS.

SeaweedFS (S3) and moto's server (SES, SNS, DynamoDB) are started once. A mail just under SES's 40 MB
receive limit, three base64 attachments of random bytes, is put in the incoming bucket; then each
measure runs in its own fresh interpreter (`relay_worker.py`), interleaved, `ROUNDS` times:
- the relay: `process_message` on the S3 notification of that mail, wired like the relay's tests;
- the I/O floor (baseline): a plain get of the mail and one put of the attachments' bytes, same endpoint;
- once, a process that only imports what the relay imports, so the import cost is seen apart.
Times are medians; peak RSS is the worst run's. Each step of the relay and of the floor is timed too, and
the measured process's CPU time is shown beside its wall time (the servers' CPU is not in it).
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesflow.aws.clients import AwsClients
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.local.moto_server import MotoServer, moto_session, start_moto_server
from sesflow.local.seaweedfs import ADMIN, SeaweedS3, start_seaweedfs
from sesflow.resources import RESOURCES

ROUNDS = 5
MAIL_LIMIT = 40_000_000  # SES receiving: 40 MB per mail, headers and encoding included
ATTACHMENTS = 3
CHILD_TIMEOUT = 300.0
SERVER_TIMEOUT = 60.0
MAX_RSS_MIB = 256
MAX_RATIO = 1.5
WORKER = Path(__file__).resolve().with_name("relay_worker.py")
#: The relay's steps as `relay_worker.py` times them, and what each one does here.
RELAY_STEPS = {
    "load": "load (get + parse)",
    "store_attachments": "store attachments (decode + upload)",
    "sign_links": "sign",
    "compose": "compose",
    "send_in_chunks": "send (SES + idempotency)",
    "check_gate": "gate",
    "find_recipients": "recipients",
    "report": "report",
}

SENDER = "relay@ingest.example.com"
TABLE = RESOURCES.idempotency.name
CONFIGURATION_SET = "relay-tracking"
MIB = 1024 * 1024


@dataclass(frozen=True)
class BenchMail:
    raw: bytes
    attachment_bytes: int


@dataclass(frozen=True)
class ChildResult:
    seconds: float
    cpu_seconds: float
    steps: dict[str, float]
    rss_before_mib: float
    peak_rss_mib: float


def _base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character lines ending in CRLF, as mail clients write it."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def bench_mail(limit: int = MAIL_LIMIT, count: int = ATTACHMENTS) -> BenchMail:
    """A device mail with `count` equal base64 attachments of random bytes, its total just under `limit`."""

    def head(index: int) -> bytes:
        return (
            f'--b\r\nContent-Type: application/octet-stream; name="dump-{index}.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="dump-{index}.bin"\r\n\r\n'
        ).encode()

    top = (
        b"From: sensor-gw@plant.example.com\r\nTo: relay@ingest.example.com\r\nSubject: hourly dump\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Hourly dump attached.\r\nEmail_Rxers_Code:[a@plant.example.com]:Email_Rxers_Code:\r\n"
    )
    tail = b"--b--\r\n"
    overhead = len(top) + len(tail) + sum(len(head(n)) for n in range(1, count + 1))
    # 57 bytes make one 76-character line + CRLF (78 bytes).
    size = (limit - overhead - 1) // count // 78 * 57
    payloads = [os.urandom(size) for _ in range(count)]
    raw = top + b"".join(head(n) + _base64_lines(p) for n, p in enumerate(payloads, start=1)) + tail
    if len(raw) >= limit:
        raise AssertionError(f"the mail is {len(raw)} bytes, not under {limit}")
    return BenchMail(raw, size * count)


def s3_event(s3: AwsClients, bucket: str, key: str) -> str:
    """The S3 notification SQS would carry for `key`."""
    head = s3.s3.head_object(Bucket=bucket, Key=key)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": key.replace("/", "%2F"),
                "size": head["ContentLength"],
                "eTag": head["ETag"].strip('"'),
            },
        },
    }
    return json.dumps({"Records": [record]})


def prepare_aws(aws: AwsClients) -> str:
    """SES identity and configuration set, the idempotency table, the fallback topic; returns its ARN."""
    aws.sesv2.create_email_identity(EmailIdentity=SENDER)
    aws.sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    create_idempotency_table(aws)
    return aws.sns.create_topic(Name="relay-fallback")["TopicArn"]


def child_environment() -> dict[str, str]:
    """This environment without AWS settings: the worker is given its endpoints and keys explicitly."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}


def run_child(job: dict[str, Any], workdir: Path) -> ChildResult:
    """Run one job in a fresh interpreter; raise with its output if it fails or overruns."""
    name = f"{job['mode']}-{uuid.uuid4().hex[:8]}"
    job_path, result_path = workdir / f"{name}.job.json", workdir / f"{name}.result.json"
    job_path.write_text(json.dumps(job))
    try:
        done = subprocess.run(
            [sys.executable, str(WORKER), str(job_path), str(result_path)],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            env=child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"{job['mode']} worker overran {CHILD_TIMEOUT:.0f}s and was killed") from error
    if done.returncode != 0 or not result_path.exists():
        output = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"{job['mode']} worker failed with exit code {done.returncode}:\n{output}")
    result = json.loads(result_path.read_text())
    return ChildResult(
        result["seconds"],
        result["cpu_seconds"],
        result["steps"],
        result["rss_before_mib"],
        result["peak_rss_mib"],
    )


def measure(seaweed: SeaweedS3, moto: MotoServer, workdir: Path) -> list[tuple[str, str]]:
    s3 = seaweed.clients()
    aws = AwsClients(moto_session(), endpoint_url=moto.endpoint_url)
    incoming, attachments = f"in-{uuid.uuid4().hex[:10]}", f"att-{uuid.uuid4().hex[:10]}"
    s3.s3.create_bucket(Bucket=incoming)
    s3.s3.create_bucket(Bucket=attachments)
    # SeaweedFS grows a bucket's first volumes at its first write: not a cost the first measure should pay.
    for bucket in (incoming, attachments):
        s3.s3.put_object(Bucket=bucket, Key="warm-up", Body=b"warm-up")
    topic = prepare_aws(aws)
    mail = bench_mail()
    common = {
        "s3_endpoint": seaweed.endpoint_url,
        "s3_access_key": ADMIN.access_key,
        "s3_secret_key": ADMIN.secret_key,
        "moto_endpoint": moto.endpoint_url,
        "incoming_bucket": incoming,
        "attachments_bucket": attachments,
        "mail_bytes": len(mail.raw),
        "attachments": ATTACHMENTS,
        "attachment_bytes": mail.attachment_bytes,
        "settings": {
            "IDEMPOTENCY_TABLE": TABLE,
            "INCOMING_BUCKET": incoming,
            "ATTACHMENTS_BUCKET": attachments,
            "SENDER_EMAIL": SENDER,
            "SNS_TOPIC": topic,
            "CONFIGURATION_SET": CONFIGURATION_SET,
        },
    }
    importing = run_child({**common, "mode": "imports"}, workdir)
    relays: list[ChildResult] = []
    floors: list[ChildResult] = []
    for round_number in range(ROUNDS):
        key = f"incoming/bench-{round_number}-{uuid.uuid4().hex[:8]}"  # a new mail: no idempotency hit
        s3.s3.put_object(Bucket=incoming, Key=key, Body=mail.raw)
        relay_job = {**common, "mode": "relay", "key": key, "event_body": s3_event(s3, incoming, key)}
        floor_job = {**common, "mode": "floor", "key": key, "floor_key": f"floor/{key}"}
        jobs = [(relay_job, relays), (floor_job, floors)]
        for job, results in jobs if round_number % 2 == 0 else reversed(jobs):
            results.append(run_child(job, workdir))
    return report(mail, importing, relays, floors)


def report(
    mail: BenchMail, importing: ChildResult, relays: list[ChildResult], floors: list[ChildResult]
) -> list[tuple[str, str]]:
    relay_time = statistics.median(r.seconds for r in relays)
    floor_time = statistics.median(r.seconds for r in floors)
    ratio = relay_time / floor_time
    relay_peak = max(r.peak_rss_mib for r in relays)
    relay_before = max(r.rss_before_mib for r in relays)
    floor_peak = max(r.peak_rss_mib for r in floors)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())

    def runs(results: list[ChildResult]) -> str:
        return ", ".join(f"{r.seconds:.2f}" for r in results)

    def steps(results: list[ChildResult], names: dict[str, str]) -> str:
        medians = {name: statistics.median(r.steps.get(name, 0.0) for r in results) for name in names}
        return ", ".join(f"{label} {medians[name]:.3f}" for name, label in names.items())

    def cpu(results: list[ChildResult]) -> str:
        return f"{statistics.median(r.cpu_seconds for r in results):.2f} s median"

    def verdict(ok: bool) -> str:
        return "within target" if ok else "OVER TARGET"

    per_attachment = mail.attachment_bytes // ATTACHMENTS
    return [
        (
            "mail",
            f"{len(mail.raw):,} bytes ({len(mail.raw) / MIB:.1f} MiB), {ATTACHMENTS} base64 attachments"
            f" of {per_attachment / MIB:.2f} MiB decoded",
        ),
        ("load average (1, 5, 15 min) at the end", f"{load} on {os.cpu_count()} CPUs"),
        (
            f"I/O floor: get {len(mail.raw) / MIB:.1f} MiB + put {mail.attachment_bytes / MIB:.1f} MiB"
            " (baseline)",
            f"{floor_time:.2f} s median (runs: {runs(floors)} s)",
        ),
        (
            "relay process_message(), fresh process",
            f"{relay_time:.2f} s median (runs: {runs(relays)} s)",
        ),
        ("I/O floor steps, s (median)", steps(floors, {"get": "get", "put": "put"})),
        ("relay steps, s (median)", steps(relays, RELAY_STEPS)),
        ("CPU of the measured process (servers not counted)", f"floor {cpu(floors)}, relay {cpu(relays)}"),
        (
            f"relay / I/O floor (target ≤ {MAX_RATIO}x)",
            f"{ratio:.2f}x, {verdict(ratio <= MAX_RATIO)}",
        ),
        (
            f"relay peak RSS, whole process (target ≤ {MAX_RSS_MIB} MiB)",
            f"{relay_peak:.0f} MiB, {verdict(relay_peak <= MAX_RSS_MIB)}"
            f" ({relay_before:.0f} MiB wired, before the call)",
        ),
        ("peak RSS, a process that only imports the relay's modules", f"{importing.peak_rss_mib:.0f} MiB"),
        ("peak RSS, the I/O floor's process", f"{floor_peak:.0f} MiB"),
    ]


def run() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="sesflow-bench-relay-") as scratch:
        workdir = Path(scratch)
        seaweed = start_seaweedfs(workdir / "seaweedfs", timeout=SERVER_TIMEOUT)
        moto: MotoServer | None = None
        try:
            try:
                moto = start_moto_server()
            except Exception as error:
                raise RuntimeError(f"moto's server did not start: {error}") from error
            return measure(seaweed, moto, workdir)
        finally:
            if moto is not None:
                moto.stop()
            seaweed.stop()
