"""Workers that play Lambda: they call the real handlers, by their dotted paths, with the real event shapes.

- `QueueWorker`: an SQS event source mapping. It deletes only what succeeded (`batchItemFailures` honoured,
  a raised error fails the whole batch); what is not deleted comes back after the visibility timeout, and
  moto's redrive policy moves it to the DLQ after `maxReceiveCount` receives, as in AWS.
- `AsyncInvoker`: Lambda's asynchronous invoke. A failed invocation is retried twice, then the event goes
  to the on-failure destination (an SQS queue) in Lambda's destination record format.
- `Schedule`: an EventBridge schedule, calling the handler with a Scheduled Event on its interval.

A worker killed in the middle of a message (SystemExit from a handler) loses nothing: it is replaced, as a
new Lambda container would be, and the message it held comes back after its visibility timeout.
"""

from __future__ import annotations

import importlib
import json
import logging
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sesflow import snapstart
from sesflow.local.lambda_context import ACCOUNT, REGION, LocalLambdaContext
from sesflow.resources import Function

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)

type Handler = Callable[[dict[str, Any], Any], Any]


def resolve_handler(path: str) -> Handler | None:
    """The function at a dotted path, or None when its module or attribute does not exist (yet)."""
    module_name, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            return None  # the handler's own module is missing, not one of its imports
        raise
    found = getattr(module, attribute, None)
    return found if callable(found) else None


def start_containers(handler_paths: Iterable[str]) -> None:
    """What Lambda does with SnapStart before a version's first event: the handler modules' priming hooks (as
    before the snapshot), then their renewal hooks (as after a restore). The local stack runs them when it
    wires the handlers, so every end-to-end run goes through the code a restored container runs."""
    modules = [path.rpartition(".")[0] for path in handler_paths]
    if modules:
        snapstart.before_snapshot(*modules)
        snapstart.after_restore(*modules)


@dataclass
class Counters:
    invocations: int = 0
    succeeded: int = 0
    failed: int = 0
    crashed: int = 0


class QueueWorker:
    """Polls one queue and feeds batches to the handler until stopped."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        queue_arn: str,
        function: Function,
        handler: Handler,
        *,
        batch_size: int = 5,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.handler = handler
        self.batch_size = batch_size
        self.counters = Counters()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"worker-{self.function.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except SystemExit:
                # The "container" died mid-batch: nothing was deleted, so SQS hands the messages out again.
                self.counters.crashed += 1
                logger.warning("%s: worker killed mid-message; a new one takes over", self.function.name)
            except Exception:
                logger.exception("%s: polling failed", self.function.name)
                self._stopping.wait(1)

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive → invoke → delete round; returns how many messages were received."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages") or []
        if not messages:
            return 0
        event = {"Records": [self._record(dict(message)) for message in messages]}
        context = LocalLambdaContext.start(self.function.name, self.function.timeout_seconds)
        self.counters.invocations += 1
        try:
            result = self.handler(event, context)
        except Exception:
            # An error fails the whole batch: every message waits out its visibility timeout.
            self.counters.failed += len(messages)
            logger.exception("%s: the batch failed; SQS will redeliver it", self.function.name)
            return len(messages)
        failures = result.get("batchItemFailures") or () if isinstance(result, Mapping) else ()
        failed = {str(item["itemIdentifier"]) for item in failures}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        self.counters.succeeded += len(done)
        self.counters.failed += len(failed)
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes") or {}
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
                "SenderId": attributes.get("SenderId", ACCOUNT),
                "ApproximateFirstReceiveTimestamp": attributes.get(
                    "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                ),
            },
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value.get("DataType", "String"),
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }


@dataclass
class _Invocation:
    event: dict[str, Any]
    request_id: str
    attempt: int = 1
    not_before: float = 0.0


class AsyncInvoker:
    """Lambda's event queue for one function: invoke, retry twice on error, then the failure destination."""

    def __init__(
        self,
        function: Function,
        handler: Handler,
        on_failure: Callable[[dict[str, Any]], None],
        *,
        retry_attempts: int = 2,
        retry_delays: tuple[float, ...] = (60.0, 120.0),  # Lambda waits about 1 then 2 minutes
    ) -> None:
        self.function = function
        self.handler = handler
        self.on_failure = on_failure
        self.retry_attempts = retry_attempts
        self.retry_delays = retry_delays
        self.counters = Counters()
        self.results: list[object] = []  # what each successful invocation returned, in order
        self._pending: queue.Queue[_Invocation | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._outstanding = 0
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> str:
        """Queue one event (InvocationType=Event); returns the request id at once, as Lambda answers 202."""
        invocation = _Invocation(event, str(uuid.uuid4()))
        with self._lock:
            self._outstanding += 1
            self._idle.clear()
        self._pending.put(invocation)
        return invocation.request_id

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"invoker-{self.function.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._pending.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued event finished (succeeded or went to the failure destination)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        waiting: list[_Invocation] = []
        while True:
            next_due = min((i.not_before for i in waiting), default=None)
            timeout = 0.5 if next_due is None else min(0.5, max(0.0, next_due - time.monotonic()))
            try:
                item = self._pending.get(timeout=timeout)
                if item is None:
                    return
                waiting.append(item)
            except queue.Empty:
                pass
            now = time.monotonic()
            due = [i for i in waiting if i.not_before <= now]
            waiting = [i for i in waiting if i.not_before > now]
            for invocation in due:
                retry = self._attempt(invocation)
                if retry is not None:
                    waiting.append(retry)
                else:
                    self._finished()

    def _finished(self) -> None:
        with self._lock:
            self._outstanding -= 1
            if self._outstanding == 0:
                self._idle.set()

    def _attempt(self, invocation: _Invocation) -> _Invocation | None:
        context = LocalLambdaContext.start(self.function.name, self.function.timeout_seconds)
        context.aws_request_id = invocation.request_id
        self.counters.invocations += 1
        try:
            result = self.handler(invocation.event, context)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            self.counters.failed += 1
            logger.warning("%s: attempt %d failed: %r", self.function.name, invocation.attempt, error)
            if invocation.attempt <= self.retry_attempts:
                delay = self.retry_delays[min(invocation.attempt - 1, len(self.retry_delays) - 1)]
                invocation.attempt += 1
                invocation.not_before = time.monotonic() + delay
                return invocation
            self.on_failure(self._failure_record(invocation, error))
            return None
        self.counters.succeeded += 1
        self.results.append(result)
        return None

    def _failure_record(self, invocation: _Invocation, error: BaseException) -> dict[str, Any]:
        """What Lambda sends to an on-failure destination after the retries."""
        return {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": invocation.request_id,
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function.name}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": invocation.attempt,
            },
            "requestPayload": invocation.event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_exception(error)[-3:],
            },
        }


def send_to_queue(sqs: SQSClient, queue_url: str) -> Callable[[dict[str, Any]], None]:
    """An on-failure destination that is an SQS queue."""

    def send(record: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))

    return send


@dataclass
class Schedule:
    """An EventBridge rule `rate(N seconds)` targeting the handler."""

    function: Function
    handler: Handler
    interval_seconds: float
    rule_name: str = "sesflow-local-schedule"
    counters: Counters = field(default_factory=Counters)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"schedule-{self.function.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def fire(self) -> object:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.rule_name}"],
            "detail": {},
        }
        self.counters.invocations += 1
        return self.handler(
            event, LocalLambdaContext.start(self.function.name, self.function.timeout_seconds)
        )

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_seconds):
            try:
                self.fire()
                self.counters.succeeded += 1
            except SystemExit:
                # The run's container died; EventBridge fires the next run on time all the same.
                self.counters.crashed += 1
                logger.warning("%s: scheduled run killed; the next one runs on time", self.function.name)
            except Exception:
                self.counters.failed += 1
                logger.exception("%s: scheduled run failed", self.function.name)
