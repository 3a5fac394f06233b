"""A throwaway Redis on a loopback port, with no persistence: NetBox's task queue and cache."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sesflow.local.netbox.errors import NetBoxServiceError, log_tail
from sesflow.local.netbox.processes import stop_process
from sesflow.local.netbox.system import redis_tool
from sesflow.local.ports import LOOPBACK, wait_for_port


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, work_dir: Path, port: int, timeout: float = 15.0) -> RedisServer:
        log_path = work_dir / "redis.log"
        command = [
            redis_tool("redis-server"),
            "--bind",
            LOOPBACK,
            "--port",
            str(port),
            "--dir",
            str(work_dir),
        ]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed arguments
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = cls(port, process, log_path)
        if not wait_for_port(port, timeout):
            server.stop()
            raise NetBoxServiceError(
                f"Redis did not listen on {port} within {timeout:.0f}s\n{log_tail(log_path)}"
            )
        return server

    def flush_database(self, number: int) -> None:
        """SELECT + FLUSHDB through the wire protocol: no client library, no subprocess."""
        selected = str(number).encode()
        command = b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n*1\r\n$7\r\nFLUSHDB\r\n" % (len(selected), selected)
        with socket.create_connection((LOOPBACK, self.port), timeout=5) as connection:
            connection.sendall(command)
            replies = b""
            while replies.count(b"\r\n") < 2:
                chunk = connection.recv(64)
                if not chunk:
                    break
                replies += chunk
        if replies != b"+OK\r\n+OK\r\n":
            raise NetBoxServiceError(f"Redis SELECT/FLUSHDB answered {replies!r}")

    def stop(self) -> None:
        stop_process(self.process)
