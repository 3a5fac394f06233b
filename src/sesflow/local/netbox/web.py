"""NetBox's long-running programs, gunicorn (the API) and the RQ worker (webhooks); waiting for the API."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sesflow.local.netbox.errors import NetBoxServiceError, log_tail
from sesflow.local.netbox.instance import NetBoxInstance
from sesflow.local.ports import LOOPBACK


def start_gunicorn(
    instance: NetBoxInstance, port: int, workers: int, log_path: Path
) -> subprocess.Popen[bytes]:
    # --preload halves the start time; gunicorn 26 would otherwise leave a control socket in ~/.gunicorn.
    arguments = ["--bind", f"{LOOPBACK}:{port}", "--workers", str(workers), "--threads", "4", "--preload"]
    arguments += ["--no-control-socket", "--graceful-timeout", "1", "--timeout", "120"]
    # Longer than any pause between a client's requests, as nginx's 75 s: gunicorn's 2 s default closes pooled
    # connections under a client's feet, and a POST cut that way is not safely repeatable.
    arguments += ["--keep-alive", "75", "netbox.wsgi"]
    return instance.spawn("gunicorn", arguments, log_path)


#: NetBox's RQ queues, in the order the worker serves them.
RQ_QUEUES = ("high", "default", "low")


def start_rq_worker(instance: NetBoxInstance, log_path: Path) -> subprocess.Popen[bytes]:
    return instance.spawn("netbox", ["rqworker", *RQ_QUEUES], log_path)


def wait_until_ready(
    url: str,
    token: str,
    programs: dict[str, tuple[subprocess.Popen[bytes], Path]],
    timeout: float,
) -> dict[str, Any]:
    """Poll /api/status/ until it answers, failing early if a program exits; returns the status document."""
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        f"{url}/api/status/", headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, (process, log_path) in programs.items():
            if process.poll() is not None:
                raise NetBoxServiceError(f"{name} exited with {process.returncode}\n{log_tail(log_path)}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback URL
                status: dict[str, Any] = json.load(response)
                return status
        except urllib.error.HTTPError as error:
            if error.code < 500:
                raise NetBoxServiceError(
                    f"NetBox refused the seeded token: {error.code} {error.read()!r}"
                ) from error
        except OSError:
            time.sleep(0.25)  # not listening yet
            continue
        time.sleep(0.25)
    web_log = programs["gunicorn"][1]
    raise NetBoxServiceError(
        f"NetBox did not answer {url}/api/status/ within {timeout:.0f}s\n{log_tail(web_log)}"
    )
