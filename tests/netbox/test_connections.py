"""Which keep-alive connection the client's next request takes after an error answer to a write.

NetBox refuses a stale If-Match before it reads the PATCH body, and gunicorn's threaded worker then stalls the
next request on that connection until the client gives up: the client must open a new connection after an
error answer to a request with a body, and keep reusing it otherwise."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import DEMO_SEED, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxConflict, NetBoxNotFound
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationStatus
from sesflow.netbox.retry import RetryPolicy

THING = "/api/things/1/"
MISSING = "/api/things/2/"


class _Recorder(BaseHTTPRequestHandler):
    """Answers as NetBox would (a stale If-Match is 412, an unknown object 404) and records which connection
    each request came on."""

    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn and nginx
    server: _RecordingServer

    def do_GET(self) -> None:
        self._record()
        self._answer(404 if self.path == MISSING else 200)

    def do_PATCH(self) -> None:
        self._record()
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(412 if self.headers.get("If-Match") == "stale" else 200)

    def _record(self) -> None:
        self.server.seen.append((self.client_address[1], f"{self.command} {self.path}"))

    def _answer(self, status: int) -> None:
        payload = json.dumps({"id": 1} if status == 200 else {"detail": "no"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.seen: list[tuple[int, str]] = []

    def connections(self) -> list[int]:
        """The connection (client port) of each request, numbered in the order they first appear."""
        numbers: dict[int, int] = {}
        return [numbers.setdefault(port, len(numbers)) for port, _ in self.seen]


@pytest.fixture
def server() -> Iterator[_RecordingServer]:
    running = _RecordingServer()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def _client(server: _RecordingServer) -> NetBoxClient:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return NetBoxClient(url, "token", retry=RetryPolicy(deadline=2))


@pytest.mark.integration
def test_a_refused_write_sends_the_next_request_on_a_new_connection(server: _RecordingServer) -> None:
    client = _client(server)
    client.get(THING)
    with pytest.raises(NetBoxConflict):
        client.patch(THING, {"status": "sent"}, if_match="stale")
    client.get(THING)
    client.get(THING)
    requests = [request for _, request in server.seen]
    assert requests == [f"GET {THING}", f"PATCH {THING}", f"GET {THING}", f"GET {THING}"]
    assert server.connections() == [0, 0, 1, 1]


@pytest.mark.integration
def test_an_accepted_write_or_a_refused_read_keeps_the_connection(server: _RecordingServer) -> None:
    client = _client(server)
    client.patch(THING, {"status": "sent"}, if_match="current")
    with pytest.raises(NetBoxNotFound):
        client.get(MISSING)
    client.get(THING)
    assert server.connections() == [0, 0, 0]


@pytest.mark.netbox
@pytest.mark.integration
def test_reads_after_refused_if_match_writes_are_answered_by_the_real_netbox(
    clean_netbox: RunningNetBox,
) -> None:
    """Against gunicorn as NetBox runs it: with a body larger than its first read, about one in five reads
    sent on the refused write's connection stalled; twenty rounds all answered within 3 s."""
    token = clean_netbox.tokens.admin
    client = NetBoxClient(clean_netbox.url, token, retry=RetryPolicy(deadline=3), timeout=3)
    api = NoticesApi(client)
    seeded = seed_netbox(client, DEMO_SEED)
    assert seeded.template is not None
    contacts = list(seeded.contacts.values())
    long_message = "The window moved. " * 700  # 12.6 KB: gunicorn reads 8 KB first
    for _ in range(20):
        drafted = api.create_prepared_notification(
            template_id=seeded.template, subject="s", body_text="b", contact_ids=contacts
        )
        stale = api.get_prepared_notification(drafted.id).etag
        api.transition(drafted.id, NotificationStatus.READY)
        with pytest.raises(NetBoxConflict):
            api.transition(drafted.id, NotificationStatus.SENT, message=long_message, if_match=stale)
        assert api.get_prepared_notification(drafted.id).status == "ready"
