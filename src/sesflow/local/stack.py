"""The local stack: the whole system on one machine, with no AWS account.

    moto (AWS, with the send recorder) → resources from `sesflow.resources` → NetBox → the handlers'
    environment → outbox → HTTP API → workers (queues, async invoke, schedule) → SMTP ingress

Handlers are wired by their dotted paths (the Lambda contract); one whose module does not exist is listed as
not wired and everything else still runs. Without a NetBox the notices flows are off (their handlers would
fail every settings check): the relay and its stand-ins run alone.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from sesflow.aws.clients import AwsClients, default_clients
from sesflow.local.aws_setup import LocalAws, create_resources
from sesflow.local.http_api import HttpApi, Route
from sesflow.local.moto_server import LOCAL_CREDENTIALS, MotoServer, moto_session, start_moto_server
from sesflow.local.outbox import Outbox
from sesflow.local.receipt_rules import ReceiptRule, Verdicts
from sesflow.local.ses_wire import AcceptedMail, SendRecorder
from sesflow.local.smtp_ingress import IngressSettings, SmtpIngress, start_ingress
from sesflow.local.workers import (
    AsyncInvoker,
    Handler,
    QueueWorker,
    Schedule,
    resolve_handler,
    send_to_queue,
    start_containers,
)
from sesflow.resources import RESOURCES, Function, Resources

if TYPE_CHECKING:
    from sesflow.local.netbox.seed import Seeded

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook/outbound"
STATUS_FILE = "local/stack.json"
#: Where `sesflow local up` keeps the outbox, certificate and status unless told otherwise.
DEFAULT_WORKDIR = Path(".sesflow")
NOTICES_NEED_NETBOX = "no NetBox was given"


@dataclass(frozen=True)
class NetBoxTarget:
    url: str
    token: str


@dataclass(frozen=True)
class StackOptions:
    workdir: Path = DEFAULT_WORKDIR
    resources: Resources = RESOURCES
    smtp: IngressSettings = field(default_factory=IngressSettings)
    api_port: int = 0
    #: NetBox to use; None starts the real NetBox harness unless `start_netbox` is False.
    netbox: NetBoxTarget | None = None
    start_netbox: bool = True
    #: The started NetBox's web port (0: any free port).
    netbox_port: int = 0
    outbox_smtp: tuple[str, int] | None = None
    verdicts: Verdicts = field(default_factory=Verdicts)
    relay_address: str = "relay@ingest.example.com"
    notices_address: str = "notices@example.net"
    relay_sender: str = "relay@ingest.example.com"
    notices_sender: str = "notices@example.net"
    webhook_secret: str = "sesflow-local-webhook-secret"  # noqa: S105 - a loopback-only value
    presigned_expiration: int = 129_600
    outbound_poll_seconds: float = 10.0
    async_retry_delays: tuple[float, ...] = (2.0, 4.0)  # Lambda waits ~1 and ~2 minutes; scaled down here
    log_level: str = "INFO"
    #: Where the functions' logs go, appended: their Powertools JSON lines and the stand-ins' warnings. None:
    #: stdout and stderr, where Lambda's would reach CloudWatch.
    function_log: Path | None = None
    #: handler path → a replacement (tests wrap a real handler to kill it at a named step)
    handler_overrides: Mapping[str, Handler] = field(default_factory=dict)
    extra_environment: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    options: StackOptions
    moto: MotoServer
    clients: AwsClients
    aws: LocalAws
    outbox: Outbox
    api: HttpApi
    ingress: SmtpIngress
    inbound: AsyncInvoker
    workers: dict[str, QueueWorker]
    schedule: Schedule | None
    netbox: NetBoxTarget | None
    seeded: Seeded | None
    environment: dict[str, str]
    wired: dict[str, bool]
    #: Why the notices flows do not run (None: they do).
    notices_off: str | None
    started_in: float
    _running: ExitStack

    @property
    def resources(self) -> Resources:
        return self.options.resources

    @property
    def webhook_url(self) -> str:
        return self.api.url + WEBHOOK_PATH

    def endpoints(self) -> dict[str, Any]:
        return {
            "aws": self.moto.endpoint_url,
            "smtp": f"{self.ingress.host}:{self.ingress.port}",
            "smtp_certificate": str(self.ingress.cert_path),
            "webhook": self.webhook_url,
            "netbox": self.netbox.url if self.netbox else None,
            "outbox": str(self.outbox.maildir),
            "relay_address": self.options.relay_address,
            "notices_address": self.options.notices_address,
            "handlers": self.handler_states(),
            "function_log": str(self.options.function_log) if self.options.function_log else None,
        }

    def handler_states(self) -> dict[str, str]:
        """Each function: `wired`, off with the reason, or not importable."""
        notices = {function.name for function in _notices_functions(self.resources)}
        states = {}
        for name, wired in self.wired.items():
            if wired:
                states[name] = "wired"
            elif self.notices_off is not None and name in notices:
                states[name] = f"off: {self.notices_off}"
            else:
                states[name] = "not importable: not wired"
        return states

    def stop(self) -> None:
        self._running.close()


def stack_environment(
    options: StackOptions, moto_url: str, aws: LocalAws, netbox: NetBoxTarget | None
) -> dict[str, str]:
    """What the templates set on each function, for every flow at once (the names do not clash)."""
    resources = options.resources
    relay, notices = resources.relay, resources.notices
    environment = {
        **LOCAL_CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_url,
        "IDEMPOTENCY_TABLE": resources.idempotency.name,
        "LOG_LEVEL": options.log_level,
        "POWERTOOLS_LOG_LEVEL": options.log_level,
        "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines are for CloudWatch
        # relay
        "INCOMING_BUCKET": relay.incoming.name,
        "ATTACHMENTS_BUCKET": relay.attachments.name,
        "SENDER_EMAIL": options.relay_sender,
        "SNS_TOPIC": aws.fallback_topic_arn,
        "CONFIGURATION_SET": relay.configuration_set,
        "PRESIGNED_EXPIRATION": str(options.presigned_expiration),
        # notices
        "S3_BUCKET_NAME": notices.inbound_bucket.name,
        "S3_KEY_PREFIX": notices.inbound_prefix,
        "SES_FROM_ADDRESS": options.notices_sender,
        "SES_CONFIGURATION_SET": notices.configuration_set,
        "WEBHOOK_SECRET": options.webhook_secret,
    }
    if netbox is not None:
        environment |= {"NETBOX_URL": netbox.url, "NETBOX_API_TOKEN": netbox.token}
    return environment | dict(options.extra_environment)


def apply_environment(environment: Mapping[str, str], handler_paths: list[str]) -> Callable[[], None]:
    """Set the handlers' environment in this process and forget what they cached from an earlier one;
    returns the undo."""
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    _forget_cached_settings(handler_paths)

    def restore() -> None:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget_cached_settings(handler_paths)

    return restore


def _forget_cached_settings(handler_paths: list[str]) -> None:
    import sesflow.config as config
    from sesflow import faults

    faults.reset()  # the kill points (SESFLOW_KILL_AT…) are read from the environment just set

    for name in ("relay_settings", "inbound_settings", "outbound_settings", "tracking_settings"):
        getattr(config, name).cache_clear()
    default_clients.cache_clear()
    for path in handler_paths:
        for module in _wiring_modules(path):
            deps = getattr(module, "default_deps", None)
            if deps is not None and hasattr(deps, "cache_clear"):
                deps.cache_clear()


def _wiring_modules(handler_path: str) -> list[ModuleType]:
    """The handler path's module and the one the handler is defined in (a package's `handler` comes from
    its wiring module, which holds the cached wiring); only modules already imported."""
    module_name, _, attribute = handler_path.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None:
        return []
    defined_in = sys.modules.get(getattr(getattr(module, attribute, None), "__module__", "") or "")
    return [module] if defined_in in (None, module) else [module, defined_in]


def _netbox_target(options: StackOptions, running: ExitStack) -> NetBoxTarget | None:
    if options.netbox is not None:
        return options.netbox
    if not options.start_netbox:
        return None
    from sesflow.local.netbox import start_netbox

    server = start_netbox(http_port=options.netbox_port)
    running.callback(server.stop)
    return NetBoxTarget(server.url, server.tokens.admin)


def seed_for_samples(target: NetBoxTarget) -> Seeded:
    """Providers and circuits for every notice of the test corpus, the demo's among them, with the demo's
    contacts and template; read from the package, so an installed sesflow seeds the same as a checkout."""
    from sesflow.local.netbox.seed import packaged_seed, seed_netbox
    from sesflow.netbox.client import NetBoxClient

    return seed_netbox(NetBoxClient(target.url, target.token), packaged_seed())


def start_stack(options: StackOptions | None = None) -> Stack:
    """Start every part, in the order each needs the one before; stop them all if one fails to start."""
    options = options or StackOptions()
    started = time.monotonic()
    workdir = options.workdir.resolve()
    with ExitStack() as running:
        accepted: queue.Queue[AcceptedMail | None] = queue.Queue()
        moto, clients, aws = start_aws(options, accepted, running)
        netbox = _netbox_target(options, running)
        seeded = seed_for_samples(netbox) if netbox is not None else None
        notices_off = notices_off_reason(options, netbox)
        environment = stack_environment(options, moto.endpoint_url, aws, netbox)
        handlers = wire_handlers(options, environment, running, notices_on=notices_off is None)
        if options.function_log is not None:
            send_logs_to_file(options.function_log, running)  # before any worker runs a handler
        outbox = Outbox(
            workdir / "outbox", clients.sns, aws.event_destinations, options.outbox_smtp, accepted
        )
        _started(running, outbox)
        api = start_api(options, handlers, netbox, running)
        workers = _start_queue_workers(clients, aws, options.resources, handlers, running)
        inbound = _started(running, inbound_invoker(options, handlers, clients, aws))
        schedule = outbound_schedule(options, handlers, running)
        ingress = _started_ingress(options, inbound, clients, running, notices_on=notices_off is None)
        functions = _functions(options.resources)
        return Stack(
            options=options,
            moto=moto,
            clients=clients,
            aws=aws,
            outbox=outbox,
            api=api,
            ingress=ingress,
            inbound=inbound,
            workers=workers,
            schedule=schedule,
            netbox=netbox,
            seeded=seeded,
            environment=environment,
            wired={function.name: handlers[function.handler] is not None for function in functions},
            notices_off=notices_off,
            started_in=time.monotonic() - started,
            _running=running.pop_all(),
        )
    raise AssertionError("unreachable: the with block returns or raises")


def _started_ingress(
    options: StackOptions, inbound: AsyncInvoker, clients: AwsClients, running: ExitStack, *, notices_on: bool
) -> SmtpIngress:
    rules = receipt_rules(options, inbound, notices_on=notices_on)
    tls_dir = options.workdir.resolve() / "tls"
    ingress = start_ingress(rules, store_with(clients), options.verdicts, options.smtp, tls_dir)
    running.callback(ingress.stop)
    return ingress


class _Startable(Protocol):
    def start(self) -> object: ...
    def stop(self) -> None: ...


def _started[S: _Startable](running: ExitStack, part: S) -> S:
    part.start()
    running.callback(part.stop)
    return part


def start_aws(
    options: StackOptions, accepted: queue.Queue[AcceptedMail | None], running: ExitStack
) -> tuple[MotoServer, AwsClients, LocalAws]:
    """moto with the send recorder in front (each accepted mail goes to `accepted`), and the resources."""
    moto = start_moto_server(middleware=lambda app: SendRecorder(app, accepted.put))
    running.callback(moto.stop)
    # moto keeps its state per process, shared by every moto server in it: start from an empty account
    # and leave one behind, so a second stack (or a test's own moto) never sees these resources.
    moto.reset()
    running.callback(moto.reset)
    clients = AwsClients(moto_session(), endpoint_url=moto.endpoint_url)
    identities = tuple(dict.fromkeys((options.relay_sender, options.notices_sender)))
    return moto, clients, create_resources(clients, options.resources, identities)


def _notices_functions(resources: Resources) -> tuple[Function, ...]:
    notices = resources.notices
    return (notices.inbound, notices.outbound, notices.tracking)


def _functions(resources: Resources) -> tuple[Function, ...]:
    return (resources.relay.function, *_notices_functions(resources))


def notices_off_reason(options: StackOptions, netbox: NetBoxTarget | None) -> str | None:
    """Why the notices flows stay off, or None when they run. Their handlers read NetBox's URL and token at
    every start and fail without them, so without a NetBox they are not wired at all; a test that replaces
    a notices handler runs its stand-in without one."""
    if netbox is not None:
        return None
    overrides = options.handler_overrides
    if any(function.handler in overrides for function in _notices_functions(options.resources)):
        return None
    return NOTICES_NEED_NETBOX


def wire_handlers(
    options: StackOptions, environment: Mapping[str, str], running: ExitStack, *, notices_on: bool = True
) -> dict[str, Handler | None]:
    """Each function's handler by its dotted path (None: not importable, or a notices function while the
    notices flows are off), imported once the environment the templates would set is in place."""
    paths = [function.handler for function in _functions(options.resources)]
    running.callback(apply_environment(environment, paths))
    off = set() if notices_on else {function.handler for function in _notices_functions(options.resources)}
    handlers = {
        path: options.handler_overrides.get(path) or (None if path in off else resolve_handler(path))
        for path in paths
    }
    # SnapStart's hooks for the real handlers wired; an override stands in for its handler, whose hooks
    # would need what the override does without (a NetBox, say).
    start_containers(
        path
        for path, handler in handlers.items()
        if handler is not None and path not in options.handler_overrides
    )
    return handlers


def send_logs_to_file(path: Path, running: ExitStack) -> None:
    """Until the stack stops, the functions' Powertools loggers (each writes JSON lines to the stdout it saw
    when its module was imported, as in Lambda) and sesflow's plain loggers (the stand-ins' and the code the
    functions call, warnings and up) write to `path` instead. The handlers run on worker threads of this
    process, so their loggers are redirected in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log = running.enter_context(path.open("a", encoding="utf-8", buffering=1))
    for function_logger in _powertools_loggers():
        handler = getattr(function_logger, "powertools_handler", None)
        if isinstance(handler, logging.StreamHandler):
            previous = handler.setStream(log)
            if previous is not None:
                running.callback(handler.setStream, previous)
    # Powertools' loggers are named after services ("sesflow-relay"), not under this one: no record twice.
    package = logging.getLogger("sesflow")
    to_file = logging.StreamHandler(log)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package.addHandler(to_file)
    running.callback(package.removeHandler, to_file)


def _powertools_loggers() -> list[logging.Logger]:
    """Loggers a Powertools `Logger` configured (it marks them with its handler)."""
    return [
        candidate
        for candidate in list(logging.Logger.manager.loggerDict.values())
        if isinstance(candidate, logging.Logger) and getattr(candidate, "powertools_handler", None)
    ]


def start_api(
    options: StackOptions,
    handlers: Mapping[str, Handler | None],
    netbox: NetBoxTarget | None,
    running: ExitStack,
) -> HttpApi:
    """The HTTP API with outbound's webhook route, and NetBox's webhook + event rule pointed at it."""
    outbound = options.resources.notices.outbound
    api = HttpApi(port=options.api_port)
    handler = handlers[outbound.handler]
    if handler is not None:
        api.add_route(Route("POST", WEBHOOK_PATH, handler, outbound.name, outbound.timeout_seconds))
    _started(running, api)
    if netbox is not None and handler is not None:
        from sesflow.local.netbox.seed import seed_ready_webhook
        from sesflow.netbox.client import NetBoxClient

        client = NetBoxClient(netbox.url, netbox.token)
        seed_ready_webhook(client, api.url + WEBHOOK_PATH, options.webhook_secret)
    return api


def inbound_invoker(
    options: StackOptions, handlers: Mapping[str, Handler | None], clients: AwsClients, aws: LocalAws
) -> AsyncInvoker:
    notices = options.resources.notices
    return AsyncInvoker(
        notices.inbound,
        handlers[notices.inbound.handler] or _missing(notices.inbound),
        send_to_queue(clients.sqs, aws.inbound_failures.url),
        retry_attempts=notices.async_retry_attempts,
        retry_delays=options.async_retry_delays,
    )


def outbound_schedule(
    options: StackOptions, handlers: Mapping[str, Handler | None], running: ExitStack
) -> Schedule | None:
    outbound = options.resources.notices.outbound
    handler = handlers[outbound.handler]
    if handler is None:
        return None
    schedule = Schedule(outbound, handler, options.outbound_poll_seconds, "sesflow-outbound-poll")
    return _started(running, schedule)


def receipt_rules(
    options: StackOptions, inbound: AsyncInvoker, *, notices_on: bool = True
) -> list[ReceiptRule]:
    """The relay's rule (S3 action; S3 notifies SQS) and, while the notices flows run, the notices rule (S3
    action, then Lambda); without it the notices address is refused at RCPT as any unknown one."""
    relay, notices = options.resources.relay, options.resources.notices
    rules = [ReceiptRule("relay", (options.relay_address,), relay.incoming.name, relay.incoming_prefix)]
    if notices_on:
        rules.append(
            ReceiptRule(
                "notices",
                (options.notices_address,),
                notices.inbound_bucket.name,
                notices.inbound_prefix,
                invoke=inbound.invoke,
                function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{notices.inbound.name}",
            )
        )
    return rules


def store_with(clients: AwsClients) -> Callable[[str, str, bytes], None]:
    def store(bucket: str, key: str, body: bytes) -> None:
        clients.s3.put_object(Bucket=bucket, Key=key, Body=body)

    return store


def _missing(function: Function) -> Handler:
    def handler(event: dict[str, Any], context: object) -> object:
        raise RuntimeError(f"{function.handler} cannot be imported: {function.name} is not wired")

    return handler


def _start_queue_workers(
    clients: AwsClients,
    aws: LocalAws,
    resources: Resources,
    handlers: Mapping[str, Handler | None],
    running: ExitStack,
) -> dict[str, QueueWorker]:
    relay, tracking = resources.relay, resources.notices.tracking
    candidates = (
        (relay.function, aws.relay_queue, relay.queue.batch_size),
        (tracking, aws.tracking_queue, resources.notices.tracking_queue.batch_size),
    )
    workers = {}
    for function, urls, batch_size in candidates:
        handler = handlers[function.handler]
        if handler is None:
            continue
        # One SQS client per worker: boto3 clients are thread-safe, but a shared one serialises long polls.
        sqs = AwsClients(moto_session(), endpoint_url=clients.sqs.meta.endpoint_url).sqs
        worker = QueueWorker(sqs, urls.url, urls.arn, function, handler, batch_size=batch_size)
        workers[function.name] = _started(running, worker)
    return workers


def write_status(stack: Stack) -> Path:
    """`sesflow local status` reads this: the endpoints and the process that serves them."""
    path = stack.options.workdir / STATUS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"pid": os.getpid(), "started_in": round(stack.started_in, 2), **stack.endpoints()}, indent=2
        )
    )
    return path
