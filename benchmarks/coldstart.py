"""Cold start per handler: import, wiring and first event in a fresh process, against a minimal handler.

Each of the four handlers runs in a new interpreter (`coldstart_child.py`) that imports its module, wires it
(`default_deps()`: settings, clients, the NetBox client) and handles one representative event against the
local stand-ins: moto's server (in its own process) and the real NetBox. The relay relays the device mail,
inbound applies a Zayo notice to a NetBox reset to its seed, outbound's schedule sends the one notification
made ready for it, and tracking applies a Delivery event for that notification. The baseline, measured in the
same run, is a minimal Powertools handler: import boto3, build one S3 client, make one GET; `import boto3`
alone is measured too (the import ratio's denominator). Runs are interleaved (one of each per round), figures
are medians of `RUNS` rounds, and the peak RSS is the process's maximum resident set. The import is also
given in CPU time, which the other processes of a busy machine disturb far less than wall time. Where the
sesflow measured has SnapStart hooks, each handler is also run as a restored container: imported and primed
(what Lambda does once, when it publishes the version), then renewed and given the event (what a cold start
then costs, without the restore of the snapshot itself, which Lambda does).

`SESFLOW_COLDSTART_SRC=<a checkout's src>` measures another sesflow with the same stand-ins (the children get
it as `PYTHONPATH`); `SESFLOW_COLDSTART_JSON=<file>` also writes the raw figures there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks import CORPUS
from benchmarks.outbound import start_moto_process
from sesflow.aws.clients import AwsClients
from sesflow.local.aws_setup import LocalAws, create_resources
from sesflow.local.moto_server import moto_session
from sesflow.local.netbox import RunningNetBox, start_netbox
from sesflow.local.stack import NetBoxTarget, StackOptions, seed_for_samples, stack_environment
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.resources import RESOURCES

RUNS = int(os.environ.get("SESFLOW_COLDSTART_RUNS", "5"))
FLOWS = ("boto3", "baseline", "relay", "inbound", "outbound", "tracking")
HANDLERS = ("relay", "inbound", "outbound", "tracking")
#: A flow's name with this suffix: the same handler restored from a (simulated) SnapStart snapshot.
SNAPSTART = "+snapstart"
REPO = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("coldstart_child.py")
SAM_EVENTS = REPO / "deploy" / "sam" / "events"
RELAY_EVENT = REPO / "deploy" / "cdk" / "events" / "relay_sqs_s3.json"
DEVICE_MAIL = REPO / "src" / "sesflow" / "local" / "samples" / "device-mail.eml"
NOTICE = CORPUS / "zayo" / "zayo4.eml"
NOTIFICATIONS = f"{PLUGIN}/prepared-notifications/"
BASELINE_KEY = "baseline/object"

type Figures = dict[str, Any]


def _sample(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


class World:
    """The stand-ins and what each flow's event needs, made fresh before each run (set-up, not measured)."""

    def __init__(self, netbox: RunningNetBox, aws: AwsClients, local: LocalAws, environment: dict[str, str]):
        self.netbox = netbox
        self.aws = aws
        self.local = local
        self.environment = environment
        self.admin = NetBoxClient(netbox.url, netbox.tokens.admin, timeout=60)
        self.template: int | None = None
        self.contacts: list[int] = []
        self.notification = 0

    def reset_netbox(self) -> None:
        self.netbox.reset()
        seeded = seed_for_samples(NetBoxTarget(self.netbox.url, self.netbox.tokens.admin))
        self.template, self.contacts = seeded.template, list(seeded.contacts.values())

    def baseline(self) -> dict[str, Any]:
        bucket = RESOURCES.relay.attachments.name
        self.aws.s3.put_object(Bucket=bucket, Key=BASELINE_KEY, Body=b"x" * 1024)
        return {"bucket": bucket, "key": BASELINE_KEY}

    def relay(self) -> dict[str, Any]:
        event = _sample(RELAY_EVENT)
        (record,) = event["Records"]
        notification = json.loads(record["body"])
        s3 = notification["Records"][0]["s3"]
        s3["bucket"]["name"] = RESOURCES.relay.incoming.name
        s3["object"]["key"] = f"{RESOURCES.relay.incoming_prefix}{uuid.uuid4().hex}"
        record["body"] = json.dumps(notification)
        self.aws.s3.put_object(
            Bucket=s3["bucket"]["name"], Key=s3["object"]["key"], Body=DEVICE_MAIL.read_bytes()
        )
        return event

    def inbound(self) -> dict[str, Any]:
        self.reset_netbox()
        event = _sample(SAM_EVENTS / "inbound_ses_receipt.json")
        message_id = uuid.uuid4().hex
        event["Records"][0]["ses"]["mail"]["messageId"] = message_id
        notices = RESOURCES.notices
        key = notices.inbound_prefix + message_id
        self.aws.s3.put_object(Bucket=notices.inbound_bucket.name, Key=key, Body=NOTICE.read_bytes())
        return event

    def outbound(self) -> dict[str, Any]:
        draft = {
            "template_id": self.template,
            "subject": "Planned maintenance on ZAYO-0001",
            "body_text": "Work on ZAYO-0001 from 02:00 to 04:00 UTC.",
            "body_html": "<p class='note'>Work on <b>ZAYO-0001</b>.</p>",
            "css": ".note { color: #333 }",
            "contact_ids": self.contacts,
        }
        (created,) = self.admin.post(NOTIFICATIONS, [draft])
        self.notification = int(created["id"])
        self.admin.request("PATCH", NOTIFICATIONS, body=[{"id": self.notification, "status": "ready"}])
        return _sample(SAM_EVENTS / "outbound_schedule.json")

    def tracking(self) -> dict[str, Any]:
        """A Delivery for the notification outbound sent in this round, with its round tag."""
        event = _sample(SAM_EVENTS / "tracking_sqs_delivery.json")
        (record,) = event["Records"]
        envelope = json.loads(record["body"])
        ses = json.loads(envelope["Message"])
        sent = self.admin.request("GET", f"{NOTIFICATIONS}{self.notification}/").data
        approved = str(sent.get("approved_at") or "")
        ses["mail"]["messageId"] = f"0100{uuid.uuid4().hex}-coldstart"
        ses["mail"]["tags"]["notification_id"] = [str(self.notification)]
        ses["mail"]["tags"]["outbound_round"] = [_round(approved)]
        envelope["Message"] = json.dumps(ses)
        record["body"] = json.dumps(envelope)
        return event


def _round(approved_at: str) -> str:
    """Outbound's round tag for an approval time (the format `round_of` writes)."""
    from datetime import UTC, datetime

    if not approved_at:
        return "unapproved"
    return datetime.fromisoformat(approved_at).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def run_child(flow: str, event: Mapping[str, Any], environment: Mapping[str, str], folder: Path) -> Figures:
    event_file = folder / f"{flow}.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(CHILD), flow, str(event_file)],
        capture_output=True,
        text=True,
        env=dict(environment),
        check=False,
        timeout=300,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{flow} failed ({done.returncode}): {done.stderr[-2000:]}")
    figures: Figures = json.loads(lines[-1])
    return figures


def measure(world: World, runs: int, flows: tuple[str, ...]) -> dict[str, list[Figures]]:
    events: dict[str, Callable[[], dict[str, Any]]] = {
        "boto3": dict,
        "baseline": world.baseline,
        "relay": world.relay,
        "inbound": world.inbound,
        "outbound": world.outbound,
        "tracking": world.tracking,
    }
    found: dict[str, list[Figures]] = {flow: [] for flow in flows}
    with tempfile.TemporaryDirectory(prefix="sesflow-coldstart-") as folder:
        for flow in flows:  # a round not counted: it writes the bytecode the measured runs then read
            run_child(flow, events[flow.removesuffix(SNAPSTART)](), world.environment, Path(folder))
        for _ in range(runs):
            for flow in flows:
                event = events[flow.removesuffix(SNAPSTART)]()
                found[flow].append(run_child(flow, event, world.environment, Path(folder)))
    return found


def has_snapstart_hooks() -> bool:
    """Whether the sesflow measured has `sesflow.snapstart` (an older checkout has not)."""
    source = os.environ.get("SESFLOW_COLDSTART_SRC")
    if source:
        return (Path(source) / "sesflow" / "snapstart.py").exists()
    return importlib.util.find_spec("sesflow.snapstart") is not None


def child_environment(netbox: RunningNetBox, moto_url: str, local: LocalAws) -> dict[str, str]:
    options = StackOptions(log_level="WARNING")
    target = NetBoxTarget(netbox.url, netbox.tokens.admin)
    environment = {**os.environ, **stack_environment(options, moto_url, local, target)}
    environment.pop("PYTHONPATH", None)
    # Lambda's bundle has its bytecode compiled; without it, every run would compile sesflow again.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    if source := os.environ.get("SESFLOW_COLDSTART_SRC"):
        environment["PYTHONPATH"] = source
    return environment


def median(figures: list[Figures], key: str) -> float:
    return float(statistics.median(item[key] for item in figures))


def report(found: dict[str, list[Figures]]) -> list[tuple[str, str]]:
    boto3_import = median(found["boto3"], "import")
    base = {key: median(found["baseline"], key) for key in ("import", "wiring", "first", "rss_kib")}
    source = os.environ.get("SESFLOW_COLDSTART_SRC") or "this checkout"
    rows = [
        ("sesflow measured", source),
        ("runs per flow (medians, interleaved)", str(len(found["boto3"]))),
        ("import boto3 alone", f"{boto3_import * 1000:.0f} ms"),
        (
            "baseline: import / wiring / first event / peak RSS",
            f"{base['import'] * 1000:.0f} / {base['wiring'] * 1000:.0f} / {base['first'] * 1000:.0f} ms"
            f" / {base['rss_kib'] / 1024:.0f} MiB",
        ),
    ]
    boto3_cpu = median(found["boto3"], "import_cpu")
    baseline_cpu = median(found["baseline"], "import_cpu")
    rows.append(
        (
            "CPU used by the end of the import: boto3 / baseline",
            f"{boto3_cpu * 1000:.0f} / {baseline_cpu * 1000:.0f} ms",
        )
    )
    for flow in HANDLERS:
        cpu = median(found[flow], "import_cpu")
        rows.append(
            (
                f"{flow}: CPU used by the end of the import (x boto3)",
                f"{cpu * 1000:.0f} ms ({cpu / boto3_cpu:.2f}x)",
            )
        )
    for flow in HANDLERS:
        got = {key: median(found[flow], key) for key in ("import", "wiring", "first", "rss_kib")}
        rows.append(
            (
                f"{flow}: import (x boto3, x baseline)",
                f"{got['import'] * 1000:.0f} ms ({got['import'] / boto3_import:.2f}x,"
                f" {got['import'] / base['import']:.2f}x)",
            )
        )
        rows.append(
            (
                f"{flow}: wiring, first event (x baseline)",
                f"{got['wiring'] * 1000:.0f} ms ({got['wiring'] / base['wiring']:.2f}x),"
                f" {got['first'] * 1000:.0f} ms ({got['first'] / base['first']:.2f}x)",
            )
        )
        rows.append(
            (
                f"{flow}: peak RSS (x baseline); answer",
                f"{got['rss_kib'] / 1024:.0f} MiB ({got['rss_kib'] / base['rss_kib']:.2f}x);"
                f" {found[flow][-1]['answer'][:60]}",
            )
        )
    for flow in HANDLERS:
        if not found.get(f"{flow}{SNAPSTART}"):
            continue
        got = {key: median(found[f"{flow}{SNAPSTART}"], key) for key in ("import", "wiring", "first")}
        rows.append(
            (
                f"{flow} with SnapStart: import + priming (at publish) / renewal / first event",
                f"{got['import'] * 1000:.0f} / {got['wiring'] * 1000:.1f} / {got['first'] * 1000:.0f} ms",
            )
        )
    return rows


def run() -> list[tuple[str, str]]:
    with ExitStack() as running:
        netbox = start_netbox()
        running.callback(netbox.stop)
        moto, moto_url = start_moto_process()
        running.callback(moto.wait, 10)
        running.callback(moto.terminate)
        aws = AwsClients(moto_session(), endpoint_url=moto_url)
        options = StackOptions()
        local = create_resources(aws, RESOURCES, (options.relay_sender, options.notices_sender))
        world = World(netbox, aws, local, child_environment(netbox, moto_url, local))
        world.reset_netbox()
        flows = FLOWS + tuple(f"{flow}{SNAPSTART}" for flow in HANDLERS if has_snapstart_hooks())
        found = measure(world, RUNS, flows)
    if target := os.environ.get("SESFLOW_COLDSTART_JSON"):
        Path(target).write_text(json.dumps(found, indent=1), encoding="utf-8")
    return report(found)
