"""The measured process of `benchmarks/relay.py`: one job in a fresh interpreter, its figures in a JSON file.

    python relay_worker.py JOB.json RESULT.json

The job's `mode` says what to do:
- `relay`: wire the relay to the running servers, then time `process_message` on one mail;
- `floor`: time a plain `get_object(...).read()` of the mail and one `put_object` of the attachments' bytes;
- `imports`: import what `relay` imports, nothing more (the cost every relay process pays before any work).

The result holds the timed call's seconds and CPU seconds (this process only: the servers' work is
not in it), the seconds of each step inside the call, the process's current RSS before the call and its
peak RSS (`VmHWM`, the whole process) at the end, in MiB. The relay's own logs go to stdout and are not read.
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

MIB = 1024 * 1024

#: Everything the relay job imports; the `imports` job imports exactly these.
RELAY_MODULES = (
    "boto3",
    "botocore.config",
    "aws_lambda_powertools.utilities.idempotency",
    "sesflow.aws.clients",
    "sesflow.aws.ses",
    "sesflow.aws.sns",
    "sesflow.aws.store",
    "sesflow.config",
    "sesflow.relay.distribute",
    "sesflow.relay.links",
    "sesflow.relay.wiring",
)

#: What the S3 job needs (boto3 and the client wiring the relay uses).
S3_MODULES = ("boto3", "botocore.config", "sesflow.aws.clients")


#: The relay's steps timed inside `process_message` (the step runner's names), by the names `relay.py`
#: reports them under.
RELAY_STEPS = {
    "load": "load",
    "gate": "check_gate",
    "recipients": "find_recipients",
    "store_attachments": "store_attachments",
    "sign_links": "sign_links",
    "compose": "compose",
    "send": "send_in_chunks",
    "report": "report",
}


class BenchmarkFailedError(RuntimeError):
    """The measured work did not do what it must (the figures would mean nothing)."""


def import_all(names: tuple[str, ...]) -> None:
    for name in names:
        importlib.import_module(name)


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    raise BenchmarkFailedError(f"/proc/self/status has no {field}")


def peak_rss_mib() -> float:
    """The whole process's peak resident set since it started this interpreter.

    Not `ru_maxrss`: Linux carries the high-water mark of the image an exec replaces into it, and
    `subprocess` may spawn with vfork, whose image is the parent's, so a fresh child would report
    the benchmark runner's peak. `VmHWM` belongs to this process's own address space.
    """
    return _status_mib("VmHWM")


def current_rss_mib() -> float:
    return _status_mib("VmRSS")


def s3_clients(job: dict[str, Any]) -> Any:
    """Clients on SeaweedFS, configured as `SeaweedS3.clients()` configures them."""
    import boto3
    from botocore.config import Config

    from sesflow.aws.clients import AwsClients

    session = boto3.Session(
        aws_access_key_id=job["s3_access_key"],
        aws_secret_access_key=job["s3_secret_key"],
        region_name="us-east-1",
    )
    return AwsClients(
        session, endpoint_url=job["s3_endpoint"], config=Config(s3={"addressing_style": "path"})
    )


def relay(job: dict[str, Any]) -> dict[str, Any]:
    import_all(RELAY_MODULES)
    from datetime import timedelta

    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from sesflow.aws.clients import AwsClients
    from sesflow.aws.ses import SesSender
    from sesflow.aws.sns import Publisher
    from sesflow.aws.store import ObjectStore
    from sesflow.config import Flow, load_settings
    from sesflow.pipeline import StepTimes, extra_hooks
    from sesflow.relay.deps import RelayDeps
    from sesflow.relay.distribute import Relayed, process_message
    from sesflow.relay.links import LinkSigner
    from sesflow.relay.wiring import freeze_wiring, relay_attempts

    settings = load_settings(Flow.RELAY, job["settings"])
    # moto accepts any keys; sesflow.local.moto_server is not imported, it would import moto itself.
    moto_keys = boto3.Session(
        aws_access_key_id="sesflow-local",
        aws_secret_access_key="sesflow-local-secret",
        region_name="us-east-1",
    )
    aws = AwsClients(moto_keys, endpoint_url=job["moto_endpoint"])
    store = ObjectStore(s3_clients(job).s3)
    deps = RelayDeps(
        settings=settings,
        store=store,
        signer=LinkSigner(store, timedelta(seconds=settings.presigned_expiration), None),
        sender=SesSender(aws.sesv2, rate_source=lambda _: 1000.0),
        publisher=Publisher(aws.sns),
        persistence=DynamoDBPersistenceLayer(
            table_name=settings.common.idempotency_table, boto3_client=aws.dynamodb
        ),
        attempts=relay_attempts(settings.common.idempotency_table, aws),
    )
    freeze_wiring()  # as the Lambda handler does once its deps are wired
    times = StepTimes()
    before = current_rss_mib()
    with extra_hooks(times):
        started, cpu_started = time.perf_counter(), time.process_time()
        outcomes = process_message(job["event_body"], deps)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    steps = {RELAY_STEPS[name]: spent for name, spent in times.seconds.items() if name in RELAY_STEPS}
    [outcome] = outcomes
    if not isinstance(outcome, Relayed):
        raise BenchmarkFailedError(f"the mail was not relayed: {outcome!r}")
    if (outcome.attachments, outcome.bytes_offloaded) != (job["attachments"], job["attachment_bytes"]):
        raise RuntimeError(
            f"offloaded {outcome.attachments} attachments, {outcome.bytes_offloaded} bytes; expected "
            f"{job['attachments']}, {job['attachment_bytes']}"
        )
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "steps": steps,
        "rss_before_mib": before,
        "peak_rss_mib": peak_rss_mib(),
    }


def floor(job: dict[str, Any]) -> dict[str, Any]:
    import_all(S3_MODULES)
    s3 = s3_clients(job).s3
    gc.collect()  # the same settled heap as the relay's process (see `freeze_wiring`)
    gc.freeze()
    before = current_rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    data = s3.get_object(Bucket=job["incoming_bucket"], Key=job["key"])["Body"].read()
    got = time.perf_counter()
    s3.put_object(
        Bucket=job["attachments_bucket"], Key=job["floor_key"], Body=data[: job["attachment_bytes"]]
    )
    ended = time.perf_counter()
    seconds, cpu_seconds = ended - started, time.process_time() - cpu_started
    if len(data) != job["mail_bytes"]:
        raise RuntimeError(f"read {len(data)} bytes, expected {job['mail_bytes']}")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "steps": {"get": got - started, "put": ended - got},
        "rss_before_mib": before,
        "peak_rss_mib": peak_rss_mib(),
    }


def imports(job: dict[str, Any]) -> dict[str, Any]:
    import_all(RELAY_MODULES)
    return {
        "seconds": 0.0,
        "cpu_seconds": 0.0,
        "steps": {},
        "rss_before_mib": current_rss_mib(),
        "peak_rss_mib": peak_rss_mib(),
    }


MODES = {"relay": relay, "floor": floor, "imports": imports}


def main(job_path: str, result_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    result = MODES[job["mode"]](job)
    Path(result_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
