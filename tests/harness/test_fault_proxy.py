"""The campaign's fault proxy over real sockets: each fault does what it says to a real HTTP server, a real
TCP peer and moto's server behind boto3, and a seeded plan fires the same faults on every run."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.config import Config

from sesflow.aws.clients import AwsClients
from sesflow.local.moto_server import MotoServer, moto_session
from sesflow.local.ports import LOOPBACK

from .fault_proxy import (
    BLACK_HOLE,
    DELAY,
    HTTP_429,
    HTTP_503,
    LOST_ANSWER,
    RESET,
    RESET_AFTER_FORWARD,
    FaultPlan,
    FaultProxy,
)

pytestmark = pytest.mark.integration


class Upstream:
    """A real HTTP server that counts the requests reaching it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream.seen.append(f"POST {self.path} {body.decode()}")
                answer = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads `seen`."""

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.address = (LOOPBACK, self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


def post(port: int, body: bytes = b"hello", timeout: float = 5) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("POST", "/thing", body=body, headers={"Content-Type": "text/plain"})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def only(fault: str, **more: float) -> FaultPlan:
    return FaultPlan({fault: 1.0}, **more)


def test_without_faults_the_request_and_answer_pass_through(upstream: Upstream) -> None:
    with FaultProxy(upstream.address) as proxy:
        assert post(proxy.port, b"one") == (200, b'{"ok": true}')
    assert upstream.seen == ["POST /thing one"]
    assert proxy.fired == {"forward": 1}


@pytest.mark.parametrize(("fault", "status"), [(HTTP_503, 503), (HTTP_429, 429)])
def test_an_error_answer_never_reaches_the_upstream(upstream: Upstream, fault: str, status: int) -> None:
    with FaultProxy(upstream.address, only(fault)) as proxy:
        assert post(proxy.port)[0] == status
    assert upstream.seen == []


def test_a_lost_answer_comes_after_the_upstream_acted(upstream: Upstream) -> None:
    with FaultProxy(upstream.address, only(LOST_ANSWER)) as proxy:
        assert post(proxy.port, b"acted")[0] == 500
    assert upstream.seen == ["POST /thing acted"]


@pytest.mark.parametrize(("fault", "reached"), [(RESET, 0), (RESET_AFTER_FORWARD, 1)])
def test_a_reset_breaks_the_connection(upstream: Upstream, fault: str, reached: int) -> None:
    with (
        FaultProxy(upstream.address, only(fault)) as proxy,
        pytest.raises((ConnectionError, http.client.RemoteDisconnected)),
    ):
        post(proxy.port)
    assert len(upstream.seen) == reached


def test_a_delay_holds_the_answer_back(upstream: Upstream) -> None:
    with FaultProxy(upstream.address, only(DELAY, delay_seconds=0.6)) as proxy:
        started = time.monotonic()
        assert post(proxy.port)[0] == 200
        assert time.monotonic() - started >= 0.6


def test_a_black_hole_never_answers(upstream: Upstream) -> None:
    with FaultProxy(upstream.address, only(BLACK_HOLE, hold_seconds=5)) as proxy, pytest.raises(TimeoutError):
        post(proxy.port, timeout=0.5)
    assert upstream.seen == []


def test_faults_can_be_aimed_and_counted_out(upstream: Upstream) -> None:
    with FaultProxy(upstream.address, only(HTTP_503)) as proxy:
        proxy.applies_to = lambda head: b"/aimed" in head
        proxy.max_faults = 1
        assert post(proxy.port)[0] == 200  # /thing: not aimed at
        connection = http.client.HTTPConnection(LOOPBACK, proxy.port, timeout=5)
        statuses = []
        for _ in range(2):
            connection.request("POST", "/aimed", body=b"x")
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
            connection.close()
    assert statuses == [503, 200]
    assert proxy.fired == {"forward": 2, HTTP_503: 1}


def test_a_seeded_plan_fires_the_same_faults_every_time() -> None:
    rates = {HTTP_503: 0.2, RESET: 0.1, DELAY: 0.1}
    first, second = FaultPlan(rates, seed=42), FaultPlan(rates, seed=42)
    drawn = [first.draw() for _ in range(200)]
    assert drawn == [second.draw() for _ in range(200)]
    assert {"forward", HTTP_503, RESET, DELAY} == set(drawn)
    with pytest.raises(ValueError, match="more than 1"):
        FaultPlan({HTTP_503: 0.7, RESET: 0.7})


def test_tcp_mode_passes_bytes_both_ways_and_resets_on_demand() -> None:
    server = socket.create_server((LOOPBACK, 0))

    def echo() -> None:
        while True:
            try:
                peer, _ = server.accept()
            except OSError:
                return
            with peer:
                while data := peer.recv(1024):
                    peer.sendall(data.upper())

    threading.Thread(target=echo, daemon=True).start()
    address = (LOOPBACK, server.getsockname()[1])
    try:
        with (
            FaultProxy(address, mode="tcp") as proxy,
            socket.create_connection((LOOPBACK, proxy.port), timeout=5) as client,
        ):
            client.sendall(b"ehlo")
            answer = b""
            while len(answer) < 4 and (chunk := client.recv(1024)):
                answer += chunk
            assert answer == b"EHLO"
        with (
            FaultProxy(address, only(RESET), mode="tcp") as proxy,
            socket.create_connection((LOOPBACK, proxy.port), timeout=5) as client,
            pytest.raises(ConnectionResetError),  # a reset, not a clean close
        ):
            client.recv(1024)
    finally:
        server.close()
    with pytest.raises(ValueError, match="do not exist in tcp mode"):
        FaultProxy(address, only(HTTP_503), mode="tcp")


def test_boto3_rides_out_throttling_from_moto_through_the_proxy(moto_server: MotoServer) -> None:
    """A real dependency behind it: a third of the answers are 503 or 429, and boto3's retries get through."""
    host, port = moto_server.endpoint_url.removeprefix("http://").split(":")
    plan = FaultPlan({HTTP_503: 0.2, HTTP_429: 0.1}, seed=7)
    with FaultProxy((host, int(port)), plan) as proxy:
        retrying = Config(retries={"max_attempts": 10, "mode": "standard"}, connect_timeout=2, read_timeout=5)
        sqs = AwsClients(moto_session(), endpoint_url=proxy.url, config=retrying).sqs
        url = sqs.create_queue(QueueName="through-the-proxy")["QueueUrl"]
        for number in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=str(number))
    assert proxy.fired[HTTP_503] + proxy.fired[HTTP_429] > 0
    assert proxy.fired["forward"] >= 6
