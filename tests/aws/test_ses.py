"""SES v2 sends through moto's server, error classification, and the limits checked before AWS is called."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from sesflow.aws.clients import AwsClients
from sesflow.aws.ses import (
    MAX_MESSAGE_BYTES,
    UNCERTAIN_CODE,
    PermanentSendError,
    SendRateLimiter,
    SesSender,
    TransientSendError,
    UncertainSendError,
    account_send_rate,
)
from sesflow.local.ports import free_port

from ..harness.aws_faults import fail_sends

pytestmark = pytest.mark.integration

SENDER = "notices@sesflow.example"
RAW = b"From: notices@sesflow.example\r\nSubject: Planned work\r\n\r\nWindow 02:00-04:00 UTC.\r\n"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def fixed_rate(_: object) -> float:
    return 1000.0


def clients_at(endpoint_url: str, config: Config | None = None) -> AwsClients:
    """Clients for a bare local endpoint, with the region and keys SES's signer needs."""
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    return AwsClients(session, endpoint_url=endpoint_url, config=config)


@pytest.fixture
def ses(aws: AwsClients) -> AwsClients:
    aws.sesv2.create_email_identity(EmailIdentity=SENDER)
    aws.sesv2.create_configuration_set(ConfigurationSetName="netbox-notices-tracking")
    return aws


def sent_messages() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def test_send_reaches_ses_with_configuration_set_and_tag(ses: AwsClients) -> None:
    sender = SesSender(ses.sesv2, rate_source=fixed_rate)
    sent = sender.send_raw(
        RAW,
        from_address=SENDER,
        recipients=["noc@customer.example", "ops@customer.example"],
        configuration_set="netbox-notices-tracking",
        tags={"notification_id": "42"},
    )
    assert sent.message_id
    stored = sent_messages()[-1]
    assert stored.id == sent.message_id
    assert stored.destinations == ["noc@customer.example", "ops@customer.example"]
    assert stored.raw_data.encode() == RAW


def test_request_carries_configuration_set_and_tags(ses: AwsClients) -> None:
    # moto ignores these two fields, so check what goes over the wire.
    seen: list[dict[str, Any]] = []
    ses.sesv2.meta.events.register("before-call.sesv2.SendEmail", lambda params, **_: seen.append(params))
    SesSender(ses.sesv2, rate_source=fixed_rate).send_raw(
        RAW,
        from_address=SENDER,
        recipients=["a@customer.example"],
        configuration_set="netbox-notices-tracking",
        tags={"notification_id": "42"},
    )
    body = seen[0]["body"]
    assert b'"ConfigurationSetName": "netbox-notices-tracking"' in body
    assert b'"EmailTags": [{"Name": "notification_id", "Value": "42"}]' in body


def test_unverified_sender_is_a_permanent_error(ses: AwsClients) -> None:
    sender = SesSender(ses.sesv2, rate_source=fixed_rate)
    with pytest.raises(PermanentSendError) as caught:
        sender.send_raw(RAW, from_address="stranger@elsewhere.example", recipients=["a@customer.example"])
    assert caught.value.code == "MessageRejected"
    assert not caught.value.transient


@pytest.mark.parametrize("code", ["Throttling", "TooManyRequestsException", "MaxSendRateExceeded"])
def test_throttled_send_is_a_transient_error(moto_server: Any, code: str) -> None:
    clients = AwsClients(endpoint_url=moto_server.endpoint_url, config=NO_RETRIES)
    calls = fail_sends(clients.sesv2, code)
    with pytest.raises(TransientSendError) as caught:
        SesSender(clients.sesv2, rate_source=fixed_rate, attempts=1).send_raw(
            RAW, from_address=SENDER, recipients=["a@customer.example"]
        )
    assert caught.value.code == code and caught.value.transient
    assert len(calls) == 1


def test_unreachable_ses_is_a_transient_error() -> None:
    clients = AwsClients(endpoint_url=f"http://127.0.0.1:{free_port()}", config=NO_RETRIES)
    with pytest.raises(TransientSendError, match="unreachable"):
        SesSender(clients.sesv2, rate_source=fixed_rate).send_raw(
            RAW, from_address=SENDER, recipients=["a@customer.example"]
        )


def count_calls(clients: AwsClients) -> list[str]:
    calls: list[str] = []
    clients.sesv2.meta.events.register("before-call.sesv2", lambda model, **_: calls.append(model.name))
    return calls


def test_fifty_one_recipients_are_refused_before_any_call(ses: AwsClients) -> None:
    calls = count_calls(ses)
    recipients = [f"user{n}@customer.example" for n in range(51)]
    with pytest.raises(PermanentSendError, match="51 recipients") as caught:
        SesSender(ses.sesv2).send_raw(RAW, from_address=SENDER, recipients=recipients)
    assert caught.value.code == "TooManyRecipients"
    assert calls == []


def test_fifty_recipients_are_sent(ses: AwsClients) -> None:
    recipients = [f"user{n}@customer.example" for n in range(50)]
    SesSender(ses.sesv2, rate_source=fixed_rate).send_raw(RAW, from_address=SENDER, recipients=recipients)
    assert len(sent_messages()[-1].destinations) == 50


def test_message_over_40_mb_is_refused_before_any_call(ses: AwsClients) -> None:
    calls = count_calls(ses)
    huge = RAW + b"x" * (41 * 1024 * 1024)
    assert len(huge) > MAX_MESSAGE_BYTES
    with pytest.raises(PermanentSendError, match="at most 41943040") as caught:
        SesSender(ses.sesv2).send_raw(huge, from_address=SENDER, recipients=["a@customer.example"])
    assert caught.value.code == "MessageTooLarge"
    assert calls == []


def test_message_without_recipients_is_refused(ses: AwsClients) -> None:
    with pytest.raises(PermanentSendError, match="no recipients"):
        SesSender(ses.sesv2).send_raw(RAW, from_address=SENDER, recipients=[])


def test_tags_outside_ses_alphabet_are_refused(ses: AwsClients) -> None:
    calls = count_calls(ses)
    with pytest.raises(PermanentSendError, match="message tag"):
        SesSender(ses.sesv2, rate_source=fixed_rate).send_raw(
            RAW, from_address=SENDER, recipients=["a@customer.example"], tags={"notification_id": "4 2"}
        )
    assert calls == []


def test_send_rate_is_read_once_from_the_account(ses: AwsClients) -> None:
    reads: list[int] = []

    def rate(_: object) -> float:
        reads.append(1)
        return 1000.0

    sender = SesSender(ses.sesv2, rate_source=rate)
    for _ in range(3):
        sender.send_raw(RAW, from_address=SENDER, recipients=["a@customer.example"])
    assert len(reads) == 1
    assert sender.limiter.rate == 1000.0


def test_account_send_rate_reads_get_account(aws: AwsClients) -> None:
    # moto's server has no SES v2 GetAccount; the stubber checks our call against the real API model.
    with Stubber(aws.sesv2) as stub:
        stub.add_response(
            "get_account",
            {"SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 3.0}},
            {},
        )
        assert account_send_rate(aws.sesv2) == 14.0


def test_limiter_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        SendRateLimiter(0)


def test_default_clients_retry_a_throttled_send(ses: AwsClients, moto_server: Any) -> None:
    clients = AwsClients(endpoint_url=moto_server.endpoint_url)  # adaptive retries, as in Lambda
    attempts = fail_sends(clients.sesv2, "TooManyRequestsException", times=1)
    sent = SesSender(clients.sesv2, rate_source=fixed_rate).send_raw(
        RAW, from_address=SENDER, recipients=["a@customer.example"]
    )
    assert len(attempts) == 1  # one throttled answer, then the sender's retry went through
    assert sent_messages()[-1].id == sent.message_id


def test_send_rate_falls_back_to_send_quota_where_get_account_is_not_offered(aws: AwsClients) -> None:
    # moto's server answers 404 to SES v2 GetAccount; SES v1 GetSendQuota reports the same quota.
    assert account_send_rate(aws.sesv2, aws.ses_v1) == 1.0
    with pytest.raises(ClientError):
        account_send_rate(aws.sesv2)


class SilentServer:
    """Accepts connections and reads requests but never answers: a reply lost after SES took the request."""

    def __init__(self) -> None:
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._open.append(connection)
            if connection.recv(65536):
                self.requests += 1

    def close(self) -> None:
        self._listener.close()
        for connection in self._open:
            connection.close()


def test_a_lost_answer_is_uncertain_and_never_resent() -> None:
    server = SilentServer()
    try:
        clients = clients_at(f"http://127.0.0.1:{server.port}", Config(read_timeout=0.5))
        with pytest.raises(UncertainSendError) as caught:
            SesSender(clients.sesv2, rate_source=fixed_rate, sleep=lambda _: None).send_raw(
                RAW, from_address=SENDER, recipients=["a@customer.example"]
            )
        assert caught.value.transient and caught.value.uncertain and caught.value.code == UNCERTAIN_CODE
        assert server.requests == 1  # neither botocore nor the sender repeated a request SES may have taken
    finally:
        server.close()


class GatewayAnswer(BaseHTTPRequestHandler):
    """A gateway in front of SES answering with its own status and an HTML page, as load balancers do."""

    status: ClassVar[int] = 502
    requests: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).requests.append(self.path)
        page = f"<html><body><h1>{self.status}</h1></body></html>".encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("status", "uncertain"), [(502, True), (504, True), (503, False), (500, False)])
def test_a_gateway_answering_for_ses_is_uncertain_and_never_resent(status: int, uncertain: bool) -> None:
    """502/504 come from something between us and SES that may have passed the request on: SES may have taken
    it. 500/503 without an SES code are still SES (or its front) refusing before sending: retried."""
    GatewayAnswer.status, GatewayAnswer.requests = status, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), GatewayAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        clients = clients_at(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(TransientSendError) as caught:
            SesSender(clients.sesv2, rate_source=fixed_rate, attempts=3, sleep=lambda _: None).send_raw(
                RAW, from_address=SENDER, recipients=["a@customer.example"]
            )
        assert caught.value.uncertain is uncertain
        assert len(GatewayAnswer.requests) == (1 if uncertain else 3)
    finally:
        server.shutdown()
        server.server_close()


def test_throttling_is_retried_by_the_sender_with_backoff_and_sent_once(ses: AwsClients) -> None:
    pauses: list[float] = []
    throttled = fail_sends(ses.sesv2, "Throttling", times=3)
    sent = SesSender(ses.sesv2, rate_source=fixed_rate, sleep=pauses.append).send_raw(
        RAW, from_address=SENDER, recipients=["a@customer.example"]
    )
    assert len(throttled) == 3 and len(pauses) == 3
    assert all(0 <= pause <= 5 for pause in pauses)
    assert sent_messages()[-1].id == sent.message_id


def test_throttling_past_the_attempts_is_transient_after_exactly_that_many_calls(ses: AwsClients) -> None:
    throttled = fail_sends(ses.sesv2, "Throttling")
    with pytest.raises(TransientSendError) as caught:
        SesSender(ses.sesv2, rate_source=fixed_rate, attempts=3, sleep=lambda _: None).send_raw(
            RAW, from_address=SENDER, recipients=["a@customer.example"]
        )
    assert not caught.value.uncertain and len(throttled) == 3


def test_the_default_ses_client_makes_one_attempt_per_call(moto_server: Any) -> None:
    clients = AwsClients(endpoint_url=moto_server.endpoint_url)
    assert clients.sesv2.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
