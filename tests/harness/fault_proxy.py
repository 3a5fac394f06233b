"""A fault proxy on loopback between sesflow and one of its dependencies (moto's server, NetBox, an SMTP
peer), firing faults at random from a seeded plan.

- `mode="http"`: one request per upstream connection (`Connection: close` is asked of the upstream). Per
  request it forwards, or answers 500/503/429 itself, or forwards and then answers 5xx anyway (the dependency
  acted, its answer is lost), or resets the connection before or after forwarding, or delays, or holds the
  connection open without an answer (a black hole).
- `mode="tcp"`: any protocol, per connection: forward both ways, reset at once or after some bytes, delay
  the start, or black-hole.

Every decision is counted in `fired`, so a campaign can print how many of each fault it survived.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from sesflow.local.ports import LOOPBACK

type Mode = Literal["http", "tcp"]

FORWARD = "forward"
#: HTTP faults, answered by the proxy
HTTP_500, HTTP_503, HTTP_429 = "http_500", "http_503", "http_429"
#: forwarded, then the answer is replaced by a 500: the dependency did the work, the client cannot know
LOST_ANSWER = "lost_answer"
#: forwarded, then the answer is replaced by a gateway's 502 (no error code of the dependency's own)
BAD_GATEWAY_AFTER_FORWARD = "bad_gateway_after_forward"
RESET = "reset"  # a TCP RST before anything reaches the upstream
RESET_AFTER_FORWARD = "reset_after_forward"  # the upstream acted, the client sees a reset
DELAY = "delay"
BLACK_HOLE = "black_hole"

HTTP_FAULTS = frozenset(
    {
        HTTP_500,
        HTTP_503,
        HTTP_429,
        LOST_ANSWER,
        BAD_GATEWAY_AFTER_FORWARD,
        RESET,
        RESET_AFTER_FORWARD,
        DELAY,
        BLACK_HOLE,
    }
)
TCP_FAULTS = frozenset({RESET, RESET_AFTER_FORWARD, DELAY, BLACK_HOLE})
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    429: "Too Many Requests",
}


@dataclass
class FaultPlan:
    """How often each fault fires (a probability per request or connection), drawn from a seeded generator."""

    rates: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    delay_seconds: float = 1.0
    #: how long a black hole holds a connection before closing it (clients time out well before)
    hold_seconds: float = 30.0
    retry_after: str = "1"

    def __post_init__(self) -> None:
        if sum(self.rates.values()) > 1.0:
            raise ValueError(f"fault rates add up to more than 1: {dict(self.rates)}")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> str:
        with self._lock:
            roll = self._random.random()
        for fault, rate in sorted(self.rates.items()):
            if roll < rate:
                return fault
            roll -= rate
        return FORWARD


class FaultProxy:
    """Listens on a free loopback port and passes traffic to `upstream` (host, port) through the plan."""

    #: the faults TCP mode knows (a subclass that serves one more extends it)
    tcp_faults: ClassVar[frozenset[str]] = TCP_FAULTS

    def __init__(self, upstream: tuple[str, int], plan: FaultPlan | None = None, mode: Mode = "http") -> None:
        allowed = HTTP_FAULTS if mode == "http" else self.tcp_faults
        plan = plan or FaultPlan()
        unknown = set(plan.rates) - allowed
        if unknown:
            raise ValueError(f"faults {sorted(unknown)} do not exist in {mode} mode")
        self.upstream = upstream
        self.plan = plan
        self.mode = mode
        self.fired: Counter[str] = Counter()
        self.enabled = True  # False: forward everything (a campaign's quiet phase)
        #: only requests whose head this accepts can draw a fault (HTTP mode); None: every request
        self.applies_to: Callable[[bytes], bool] | None = None
        #: stop firing faults once this many have fired; None: no limit
        self.max_faults: int | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = socket.create_server((LOOPBACK, 0))
        self.port: int = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name=f"fault-proxy-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):  # shutdown wakes a blocked accept(); close alone does not
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _decide(self, request: bytes = b"") -> str:
        eligible = self.enabled and (self.applies_to is None or self.applies_to(request))
        fault = self.plan.draw() if eligible else FORWARD
        with self._lock:
            faults = sum(count for name, count in self.fired.items() if name != FORWARD)
            if self.max_faults is not None and faults >= self.max_faults:
                fault = FORWARD
            self.fired[fault] += 1
        return fault

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            serve = self._serve_http if self.mode == "http" else self._serve_tcp
            threading.Thread(target=self._guarded, args=(serve, client), daemon=True).start()

    def _guarded(self, serve: Callable[[socket.socket], None], client: socket.socket) -> None:
        # A peer that vanishes mid-exchange is part of the game here, not an error of the proxy.
        with client, contextlib.suppress(OSError):
            serve(client)

    # --- HTTP ---------------------------------------------------------------------------------------------

    def _serve_http(self, client: socket.socket) -> None:
        request = read_http_request(client)
        if request is None:
            return
        fault = self._decide(request.partition(b"\r\n\r\n")[0])
        if fault == RESET:
            reset(client)
            return
        if fault == BLACK_HOLE:
            self._stopping.wait(self.plan.hold_seconds)
            return
        if fault in {HTTP_500, HTTP_503, HTTP_429}:
            client.sendall(self._answer(int(fault.removeprefix("http_"))))
            return
        if fault == DELAY:
            time.sleep(self.plan.delay_seconds)
        answer = self._forward_http(request)
        if fault == LOST_ANSWER:
            client.sendall(self._answer(500))
        elif fault == BAD_GATEWAY_AFTER_FORWARD:
            client.sendall(self._answer(502))
        elif fault == RESET_AFTER_FORWARD:
            reset(client)
        else:
            client.sendall(answer)

    def _answer(self, status: int) -> bytes:
        body = b'{"message": "fault injected by the campaign proxy"}'
        extra = f"Retry-After: {self.plan.retry_after}\r\n" if status == 429 else ""
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        )
        return head.encode() + body

    def _forward_http(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=120) as upstream:
            upstream.sendall(close_after(request))
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    # --- TCP ----------------------------------------------------------------------------------------------

    def _serve_tcp(self, client: socket.socket) -> None:
        self._serve_tcp_fault(client, self._decide())

    def _serve_tcp_fault(self, client: socket.socket, fault: str) -> None:
        if fault == RESET:
            reset(client)
            return
        if fault == BLACK_HOLE:
            self._stopping.wait(self.plan.hold_seconds)
            return
        if fault == DELAY:
            time.sleep(self.plan.delay_seconds)
        with socket.create_connection(self.upstream, timeout=120) as upstream:
            # RESET_AFTER_FORWARD: the exchange runs until the client has sent its first bytes onward.
            cut_after = 1 if fault == RESET_AFTER_FORWARD else None
            done = threading.Event()
            back = threading.Thread(target=pipe, args=(upstream, client, None, done), daemon=True)
            back.start()
            pipe(client, upstream, cut_after, done)
            if cut_after is not None:
                time.sleep(0.2)  # let the upstream act on what it got
                reset(client)
            done.set()
            back.join(timeout=5)


def pipe(
    source: socket.socket,
    target: socket.socket,
    stop_after_chunks: int | None,
    done: threading.Event,
    keep: Callable[[bytes], bool] | None = None,
) -> None:
    """Copy bytes until either side closes (or `stop_after_chunks` chunks went through, or `keep` refuses a
    chunk, which is then dropped)."""
    source.settimeout(0.5)
    chunks = 0
    while not done.is_set():
        try:
            data = source.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not data or (keep is not None and not keep(data)):
            break
        target.sendall(data)
        chunks += 1
        if stop_after_chunks is not None and chunks >= stop_after_chunks:
            break
    done.set()
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def reset(connection: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, as from a crashed load balancer."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def read_http_request(client: socket.socket) -> bytes | None:
    """One request (head and a Content-Length body; chunked uploads are not used by boto3 or NetBox's
    clients here), or None when the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def close_after(request: bytes) -> bytes:
    """The request with `Connection: close`, so the upstream ends its answer by closing."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body
