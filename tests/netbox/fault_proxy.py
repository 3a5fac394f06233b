"""A real HTTP proxy on loopback that answers the first requests with scripted faults and forwards the rest,
counting what reached NetBox. One request per connection, so each fault is one attempt of the client.
`targeted` faults wait for a request whose line starts with a given text ("POST /api/plugins/notices/"),
so a fault lands mid-flow; a fault `after_forward` lets NetBox act, then loses its answer."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from dataclasses import dataclass, field

from sesflow.local.ports import LOOPBACK

from ..harness.fault_proxy import close_after, read_http_request, reset


@dataclass(frozen=True)
class Fault:
    status: int = 0  # 0 = reset the connection instead of answering
    retry_after: str | None = None
    after_forward: bool = False  # forward first (NetBox acts), then answer with the fault instead


RESET = Fault()
UNAVAILABLE = Fault(503)
BAD_GATEWAY = Fault(502)


def throttled(retry_after: str) -> Fault:
    return Fault(429, retry_after)


@dataclass
class FaultProxy:
    upstream_port: int
    faults: deque[Fault] = field(default_factory=deque)
    forwarded: list[str] = field(default_factory=list)  # request lines that reached NetBox
    faulted: list[str] = field(default_factory=list)
    targeted: list[tuple[str, Fault]] = field(default_factory=list)  # (request line prefix, fault), each once

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = socket.create_server((LOOPBACK, 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def close(self) -> None:
        # close() alone leaves accept() blocked on Linux (the thread then costs the 5 s join timeout);
        # shutdown() wakes it with an OSError, which ends the loop.
        with contextlib.suppress(OSError):  # a kernel that refuses shutdown on a listening socket
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            request = read_http_request(client)
            if not request:
                return
            request_line = request.split(b"\r\n", 1)[0].decode()
            fault = self._fault_for(request_line)
            if fault is None:
                self.forwarded.append(request_line)
                client.sendall(self._forward(request))
                return
            self.faulted.append(request_line)
            if fault.after_forward:
                self.forwarded.append(request_line)
                self._forward(request)
            if fault.status == 0:
                reset(client)
                return
            extra = f"Retry-After: {fault.retry_after}\r\n" if fault.retry_after else ""
            body = b'{"detail": "fault injected"}'
            head = f"HTTP/1.1 {fault.status} Fault\r\nContent-Type: application/json\r\n{extra}"
            head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            client.sendall(head.encode() + body)

    def _fault_for(self, request_line: str) -> Fault | None:
        with self._lock:
            for index, (prefix, fault) in enumerate(self.targeted):
                if request_line.startswith(prefix):
                    del self.targeted[index]
                    return fault
            return self.faults.popleft() if self.faults else None

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection((LOOPBACK, self.upstream_port)) as upstream:
            upstream.sendall(close_after(request))
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)
