"""A real HTTP server on loopback that keeps every request NetBox's webhooks send it and answers 204."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.errors import log_tail
from sesflow.local.ports import LOOPBACK, free_port


@dataclass(frozen=True)
class ReceivedHook:
    method: str
    path: str
    headers: Message  # case-insensitive lookups, as HTTP header names are
    body: bytes


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[ReceivedHook] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._keep(ReceivedHook(self.command, self.path, self.headers, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: pytest shows the assertions, not an access log on stderr."""

        self._server = ThreadingHTTPServer((LOOPBACK, free_port()), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_port}"

    def _keep(self, hook: ReceivedHook) -> None:
        with self._arrived:
            self.received.append(hook)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float) -> list[ReceivedHook]:
        """The requests received once `count` have arrived, or when `timeout` has passed."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def worker_log(netbox: RunningNetBox) -> str:
    """The RQ worker's last lines and whether it is alive: what a missing webhook is explained by."""
    alive = netbox.worker.poll() is None
    return f"(worker alive: {alive})\n" + log_tail(netbox.work_dir / "rqworker.log", 25)
