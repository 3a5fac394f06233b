"""Stopping the programs we started, by process id: all signalled at once, then waited for, then killed."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence

Stoppable = tuple[subprocess.Popen[bytes], signal.Signals]


def stop_processes(processes: Sequence[Stoppable], timeout: float = 20.0) -> None:
    """Send each process its stop signal, wait up to `timeout` for all of them, SIGKILL what is left."""
    for process, stop_signal in processes:
        if process.poll() is None:
            process.send_signal(stop_signal)
    deadline = time.monotonic() + timeout
    for process, _ in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    stop_processes([(process, signal.SIGTERM)], timeout)
