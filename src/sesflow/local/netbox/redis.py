"""A throwaway Redis on a loopback port, with no persistence: NetBox's task queue and cache."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sesflow.local.netbox.errors import NetBoxServiceError, log_tail
from sesflow.local.netbox.processes import stop_process
from sesflow.local.netbox.system import redis_tool
from sesflow.local.ports import LOOPBACK, wait_for_port

RQ_QUEUE_PREFIX = "rq:queue:"

# RQ keeps each queue as a list of job ids and each job as the hash rq:job:<id>. A script runs atomically, so
# the worker never pops an id whose job data is being deleted under it.
_CLEAR_QUEUES = b"""
local dropped = 0
for _, queue in ipairs(KEYS) do
  for _, job in ipairs(redis.call('LRANGE', queue, 0, -1)) do
    redis.call('DEL', 'rq:job:' .. job)
    dropped = dropped + 1
  end
  redis.call('DEL', queue)
end
return dropped
"""


def _encode(command: Sequence[bytes]) -> bytes:
    """A command as RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(command)]
    parts += [b"$%d\r\n%s\r\n" % (len(argument), argument) for argument in command]
    return b"".join(parts)


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
        self.call(number, [b"FLUSHDB"])

    def clear_queues(self, number: int, queues: Sequence[str]) -> int:
        """Drop the jobs waiting in these RQ queues, and the queues, in one atomic script; returns how many.

        The worker's registration (its own keys in the same database) is left alone."""
        keys = [f"{RQ_QUEUE_PREFIX}{name}".encode() for name in queues]
        return int(self.call(number, [b"EVAL", _CLEAR_QUEUES, str(len(keys)).encode(), *keys]))

    def call(self, number: int, command: Sequence[bytes]) -> bytes:
        """One command in database `number` over the wire protocol (no client library, no subprocess); its
        reply, a simple string or an integer, without the type byte."""
        request = _encode([b"SELECT", str(number).encode()]) + _encode(command)
        with socket.create_connection((LOOPBACK, self.port), timeout=5) as connection:
            connection.sendall(request)
            replies = b""
            while replies.count(b"\r\n") < 2:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                replies += chunk
        lines = replies.split(b"\r\n")
        if len(lines) < 3 or lines[0] != b"+OK" or lines[1][:1] not in {b"+", b":"}:
            raise NetBoxServiceError(f"Redis {command[0].decode()} answered {replies!r}")
        return lines[1][1:]

    def stop(self) -> None:
        stop_process(self.process)
