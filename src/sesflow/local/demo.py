"""`sesflow demo`: start the local stack and show both systems working, through its real ports.

    start the stack → 1. relay: a device mail over SMTP → relayed mail in the outbox, its link downloads,
    a redelivered SQS message sends nothing → 2. notices inbound: provider notices over SMTP → NetBox →
    3. outbound + tracking: ready → sent → delivered (and a bounce → failed) → 4. summary → what to try next

Each step waits for its state with a deadline; the exit code is 1 when any step did not reach it. The
functions' own logs (Powertools JSON, one line per event, as CloudWatch would hold them) go to a file in the
work folder, kept after the run, so the steps read as a story; `--verbose` shows them inline instead.
"""

from __future__ import annotations

import base64
import re
import shutil
import smtplib
import ssl
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sesflow.local.netbox.bootstrap import ADMIN_PASSWORD
from sesflow.local.ports import LOCAL_UP_NETBOX_PORT, LOCAL_UP_SMTP_PORT, LOOPBACK
from sesflow.local.smtp_ingress import Credentials, IngressSettings
from sesflow.local.stack import DEFAULT_WORKDIR, Stack, StackOptions, start_stack
from sesflow.relay.records import MailLocation, notification_for

DEMO_USER = "demo-device"
DEMO_PASSWORD = "demo-device-password"  # noqa: S105 - the local stack's own loopback credential
STEP_SECONDS = 60.0
#: Three real provider notices, shipped in the package (samples/notices/, with their licence); the stack seeds
#: their providers and circuits in NetBox.
NOTICES = (("zayo", "zayo4.eml"), ("equinix", "equinix3.eml"), ("crowncastle", "crowncastle1.eml"))


@dataclass
class StepResult:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class Demo:
    console: Console
    stack: Stack
    results: list[StepResult] = field(default_factory=list)

    def record(self, name: str, ok: bool, detail: str, started: float) -> bool:
        self.results.append(StepResult(name, ok, detail, time.monotonic() - started))
        colour = "green" if ok else "red"
        self.console.print(f"   [{colour}]{'ok' if ok else 'FAILED'}[/{colour}]: {escape(detail)}")
        return ok


def wait_for[T](check: Callable[[], T | None], timeout: float = STEP_SECONDS, every: float = 0.2) -> T | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(every)
    return None


def submit(stack: Stack, raw: bytes, mail_from: str, to: str) -> str:
    """Send over the SMTP port as a device does (STARTTLS, AUTH); returns the SES message id in the 250."""
    raw = re.sub(rb"(?<!\r)\n", b"\r\n", raw)  # SMTP lines end in CRLF; sample files may hold bare LFs
    context = ssl.create_default_context(cafile=str(stack.ingress.cert_path))
    with smtplib.SMTP(stack.ingress.host, stack.ingress.port, timeout=30) as client:
        client.starttls(context=context)
        client.login(DEMO_USER, DEMO_PASSWORD)
        client.mail(mail_from)
        client.rcpt(to)
        code, answer = client.data(raw)
    if code != 250:
        raise RuntimeError(f"SMTP DATA answered {code} {answer!r}")
    return answer.decode().split()[-1]


def _status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback URL we signed
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def outbox_mail(stack: Stack, message_ids_before: int, subject: str) -> EmailMessage | None:
    """The first mail the outbox delivered after `message_ids_before` with this subject."""
    for accepted in stack.outbox.delivered[message_ids_before:]:
        parsed = message_from_bytes(accepted.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        if str(parsed["Subject"] or "") == subject:
            return parsed
    return None


def relay_step(demo: Demo) -> None:
    console, stack = demo.console, demo.stack
    started = time.monotonic()
    raw = files("sesflow.local").joinpath("samples/device-mail.eml").read_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    subject, sender = str(parsed["Subject"]), parseaddr(str(parsed["From"]))[1]
    console.rule("1. relay")
    before = len(stack.outbox.delivered)
    message_id = submit(stack, raw, sender, stack.options.relay_address)
    console.print(f"sent a device mail over SMTP (STARTTLS, AUTH LOGIN): 250 Ok {message_id}")
    relayed = wait_for(lambda: outbox_mail(stack, before, subject))
    if relayed is None:
        demo.record("relay", False, f"no relayed mail in the outbox after {STEP_SECONDS:.0f}s", started)
        return
    text = relayed.get_body(preferencelist=("plain",))
    body = text.get_content() if text is not None else ""
    accepted = next(a for a in stack.outbox.delivered[before:] if a.message_id)
    console.print(
        f"the outbox has it ({stack.outbox.maildir}): relayed to {len(accepted.destinations)} recipients"
    )
    console.print(f"   recipients: {escape(', '.join(accepted.destinations))}")
    for header in ("From", "Reply-To", "Subject"):
        console.print(f"   {header}: {escape(str(relayed[header]))}")
    for line in body.splitlines():
        console.print(f"   | {escape(line)}", soft_wrap=True)
    links = fetch_links(demo, body)
    ok = bool(links) and all(status == 200 for status in links.values())
    demo.record("relay: mail relayed, attachment link downloads", ok, f"{len(links)} link(s)", started)
    redelivery_step(demo, message_id)


def fetch_links(demo: Demo, body: str) -> dict[str, int]:
    """Each attachment link in the relayed body, downloaded now: its HTTP status."""
    links = [line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("- ") and "http" in line]
    statuses = {}
    for url in links:
        status, content = _status(url)
        statuses[url] = status
        demo.console.print(
            f"   link fetched now: HTTP {status}, {len(content)} bytes ({escape(url.split('?')[0])})"
        )
    # moto checks neither signatures nor expiry on links; tests/aws/test_store.py checks both on SeaweedFS.
    demo.console.print(
        "   (moto serves links without checking their expiry: SeaweedFS does, in the test suite)"
    )
    return statuses


def redelivery_step(demo: Demo, message_id: str) -> None:
    """SQS delivers at least once: the same S3 event again must not send again."""
    console, stack = demo.console, demo.stack
    started = time.monotonic()
    relay = stack.resources.relay
    key = relay.incoming_prefix + message_id
    head = stack.clients.s3.head_object(Bucket=relay.incoming.name, Key=key)
    location = MailLocation(relay.incoming.name, key, int(head["ContentLength"]), head["ETag"].strip('"'))
    worker = stack.workers[relay.function.name]
    done_before, sends_before = worker.counters.succeeded, len(stack.outbox.delivered)
    stack.clients.sqs.send_message(QueueUrl=stack.aws.relay_queue.url, MessageBody=notification_for(location))
    processed = wait_for(lambda: True if worker.counters.succeeded > done_before else None)
    time.sleep(0.5)  # the outbox works on its own thread: give a wrong second send the time to show
    again = len(stack.outbox.delivered) - sends_before
    console.print(f"redelivered the same SQS message: {again} new send(s) (idempotency record)")
    demo.record(
        "relay: redelivery sends nothing",
        processed is not None and again == 0,
        f"{again} new send(s)",
        started,
    )


def inbound_step(demo: Demo, notices: Traversable) -> None:
    console, stack = demo.console, demo.stack
    console.rule("2. notices inbound")
    started = time.monotonic()
    if stack.netbox is None:
        demo.record("inbound", False, "no NetBox (set NETBOX_URL or let the stack start one)", started)
        return
    mails = [notices / provider / name for provider, name in NOTICES]
    missing = [str(path) for path in mails if not path.is_file()]
    if missing:
        demo.record("inbound", False, f"demo notices missing: {', '.join(missing)}", started)
        return
    invoked = stack.inbound.counters.succeeded
    results_before = len(stack.inbound.results)
    for path in mails:
        raw = path.read_bytes()
        sender = parseaddr(str(message_from_bytes(raw, policy=policy.default)["From"]))[1]
        message_id = submit(stack, raw, sender, stack.options.notices_address)
        console.print(f"mailed {path.name} from {escape(sender)}: 250 Ok {message_id}")
    stack.inbound.wait_idle(STEP_SECONDS)
    succeeded = stack.inbound.counters.succeeded - invoked
    for result in stack.inbound.results[results_before:]:
        for item in result.get("results", []) if isinstance(result, dict) else []:
            console.print(f"   inbound {item.get('message_id')}: {item.get('result')}")
    from sesflow.netbox.client import NetBoxClient

    client = NetBoxClient(stack.netbox.url, stack.netbox.token)
    maintenances = list(client.iterate("/api/plugins/notices/maintenance/", None))
    table = Table(title="NetBox now holds")
    for column in ("maintenance", "provider", "status", "start", "impacts"):
        table.add_column(column)
    for item in maintenances:
        table.add_row(
            str(item["name"]),
            str(item["provider"]["name"]),
            str(item["status"]["value"] if isinstance(item["status"], dict) else item["status"]),
            str(item["start"]),
            str(item.get("impact_count", "")),
        )
    console.print(table)
    notifications = list(client.iterate("/api/plugins/notices/eventnotification/", None))
    console.print(f"event notifications (the stored provider mails): {len(notifications)}")
    ok = succeeded == len(mails) and len(maintenances) >= len(mails) and len(notifications) >= len(mails)
    detail = f"{succeeded}/{len(mails)} invocations succeeded, {len(maintenances)} maintenance(s)"
    demo.record("inbound: notices → NetBox", ok, detail, started)


def outbound_step(demo: Demo) -> None:
    """Outbound and tracking through NetBox's own webhook; needs both handlers wired."""
    console, stack = demo.console, demo.stack
    console.rule("3. notices outbound + tracking")
    started = time.monotonic()
    missing = [name for name, wired in stack.wired.items() if not wired]
    if missing or stack.netbox is None or stack.seeded is None or stack.seeded.template is None:
        demo.record("outbound + tracking", False, f"not wired: {', '.join(missing) or 'NetBox'}", started)
        return
    from sesflow.netbox.client import NetBoxClient
    from sesflow.netbox.notices import NoticesApi
    from sesflow.netbox.records import NotificationStatus

    client = NetBoxClient(stack.netbox.url, stack.netbox.token)
    notices = NoticesApi(client)
    bounce = client.post(
        "/api/tenancy/contacts/", {"name": "Bouncing", "email": "bounce@simulator.amazonses.com"}
    )
    cases = (
        ("delivered", list(stack.seeded.contacts.values())[:1], NotificationStatus.DELIVERED),
        ("bounced", [int(bounce["id"])], NotificationStatus.FAILED),
    )
    created = []
    for label, contacts, expected in cases:
        notification = notices.create_prepared_notification(
            template_id=stack.seeded.template,
            subject=f"Planned maintenance ({label} case)",
            body_text="Planned work on your circuit, 02:00-04:00 UTC.",
            contact_ids=contacts,
        )
        notices.transition(notification.id, NotificationStatus.READY)
        console.print(f"notification {notification.id} → ready (NetBox's webhook calls {stack.webhook_url})")
        created.append((notification.id, expected))
    for notification_id, expected in created:
        seen: list[str] = ["ready"]

        def reached(
            nid: int = notification_id, want: str = str(expected), trail: list[str] = seen
        ) -> bool | None:
            status = notices.get_prepared_notification(nid).status
            if not trail or trail[-1] != status:
                trail.append(status)
            return True if status == want else None

        ok = wait_for(reached, every=0.5) is not None
        demo.record(f"outbound: notification {notification_id}", ok, " → ".join(seen), started)


def summary(demo: Demo) -> int:
    table = Table(title="sesflow demo")
    for column in ("step", "result", "detail", "seconds"):
        table.add_column(column)
    for result in demo.results:
        state = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        table.add_row(result.name, state, escape(result.detail), f"{result.seconds:.1f}")
    demo.console.rule("4. summary")
    demo.console.print(table)
    failures = sum(not result.ok for result in demo.results)
    if failures:
        demo.console.print(f"[red]{failures} demo step(s) did not reach their state[/red]")
    function_log = demo.stack.options.function_log
    if function_log is not None:
        where = escape(str(function_log))
        demo.console.print(
            f"the functions' logs (Powertools JSON, as CloudWatch would hold them): {where}", soft_wrap=True
        )
    return 1 if failures else 0


def what_to_try_next(console: Console, stack: Stack) -> None:
    """Go on by hand on `sesflow local up`, with the values it uses: the demo's device login, its default
    ports and folder, and the local NetBox's login."""
    sesflow = sesflow_command()
    user, password = (base64.b64encode(text.encode()).decode() for text in (DEMO_USER, DEMO_PASSWORD))
    session = (
        "EHLO device.example",
        "AUTH LOGIN",
        f"{user}",
        f"{password}",
        "MAIL FROM:<gw@plant.example.com>",
        f"RCPT TO:<{stack.options.relay_address}>",
        "DATA",
        "Subject: hello from openssl",
        "",
        "Typed by hand, relayed to the list below.",
        "Email_Rxers_Code:[you@example.com]:Email_Rxers_Code:",
        ".",
        "QUIT",
    )
    console.rule("what to try next")
    lines = [
        "Start the stack and leave it running (Ctrl-C stops it):",
        f"   SESFLOW_SMTP_USER={DEMO_USER} SESFLOW_SMTP_PASSWORD={DEMO_PASSWORD} {sesflow} local up",
        "Be a device: in a second terminal, open an SMTP session to its ingress",
        f"   openssl s_client -starttls smtp -crlf -quiet -connect {LOOPBACK}:{LOCAL_UP_SMTP_PORT}",
        f"and type this mail ({user} and {password} are {DEMO_USER} and its password in base64, as AUTH LOGIN"
        " wants them; the empty line ends the headers):",
        *(f"   {line}" for line in session),
        f"The relayed mail lands in the outbox, a maildir: {DEFAULT_WORKDIR / 'outbox' / 'new'}/",
        f"NetBox: `local up` starts the local one at http://{LOOPBACK}:{LOCAL_UP_NETBOX_PORT}/;"
        f" log in as admin / {ADMIN_PASSWORD}",
    ]
    for line in lines:
        console.print(escape(line), soft_wrap=True, highlight=False)


def sesflow_command() -> str:
    """The `sesflow` being run, as this shell reaches it: by name when PATH finds this one, else by its path
    (relative when it is under here, as `.venv/bin/sesflow` after `make demo`)."""
    script = Path(sys.executable).parent / "sesflow"
    if not script.is_file():
        return "sesflow"
    found = shutil.which("sesflow")
    if found is not None and Path(found).resolve() == script.resolve():
        return "sesflow"
    if script.is_relative_to(Path.cwd()):
        return str(script.relative_to(Path.cwd()))
    return str(script)


def print_endpoints(console: Console, stack: Stack) -> None:
    for name, value in stack.endpoints().items():
        if isinstance(value, dict):
            value = ", ".join(f"{key} {state}" for key, state in value.items())
        console.print(f"   {name}: {escape(str(value))}", soft_wrap=True)


def clean_up(workdir: Path, keep: Path | None) -> None:
    """Remove what the run left in `workdir`, except the log the summary pointed at."""
    if keep is None or not workdir.is_dir():
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for entry in workdir.iterdir():
        if entry == keep:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def packaged_notices() -> Traversable:
    """Package data, so the demo of an installed sesflow has its notices too (no checkout needed)."""
    return files("sesflow.local") / "samples" / "notices"


def run_demo(console: Console, workdir: Path = Path(".sesflow/demo"), *, verbose: bool = False) -> int:
    """Run the demo; returns the process exit code (0 when every step reached its state). The functions'
    logs go to `functions.log` in `workdir`, or inline with `verbose`."""
    shutil.rmtree(workdir, ignore_errors=True)
    function_log = None if verbose else workdir / "functions.log"
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    console.rule("sesflow demo")
    started = time.monotonic()
    with console.status("starting the local stack (moto, NetBox, SMTP, workers)"):
        stack = start_stack(
            StackOptions(
                workdir=workdir,
                smtp=IngressSettings(credentials=Credentials(DEMO_USER, DEMO_PASSWORD)),
                log_level="INFO",
                outbound_poll_seconds=5.0,
                function_log=function_log,
            )
        )
    try:
        console.print(f"local stack up in {time.monotonic() - started:.1f}s:")
        print_endpoints(console, stack)
        demo = Demo(console, stack)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("relay", lambda: relay_step(demo)),
            ("inbound", lambda: inbound_step(demo, packaged_notices())),
            ("outbound + tracking", lambda: outbound_step(demo)),
        ]
        for name, step in steps:
            step_started = time.monotonic()
            try:
                step()
            except Exception as error:  # noqa: BLE001 - reported as the step's failure, in the summary
                demo.record(name, False, f"{type(error).__name__}: {error}", step_started)
        exit_code = summary(demo)
        what_to_try_next(console, stack)
        return exit_code
    finally:
        stack.stop()
        clean_up(workdir, keep=function_log)
