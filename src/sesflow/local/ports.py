"""Free loopback ports for the servers the local stack starts."""

from __future__ import annotations

import socket
import time
from contextlib import closing

LOOPBACK = "127.0.0.1"
#: The ports `sesflow local up` listens on unless told otherwise (the demo's closing hints quote them).
LOCAL_UP_SMTP_PORT = 2525
LOCAL_UP_API_PORT = 8088
LOCAL_UP_NETBOX_PORT = 8000


def free_ports(count: int) -> list[int]:
    """Distinct ports the kernel just handed out; held together so none repeats."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def port_is_open(port: int, host: str = LOOPBACK) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float, host: str = LOOPBACK) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_is_open(port, host):
            return True
        time.sleep(0.05)
    return False
