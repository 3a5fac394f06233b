"""moto's server mode in a thread: the AWS APIs on a loopback port, reached over real HTTP."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from sesflow.local.ports import LOOPBACK

#: moto accepts any credentials; these make it obvious in a log that nothing real was touched.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sesflow-local",
    "AWS_SECRET_ACCESS_KEY": "sesflow-local-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def moto_session() -> boto3.Session:
    """A boto3 session with the local credentials, whatever this process's environment holds."""
    return boto3.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
    )


@dataclass
class MotoServer:
    server: ThreadedMotoServer
    endpoint_url: str

    def environment(self) -> dict[str, str]:
        """What a process needs in its environment so boto3 talks to this server."""
        return {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint_url}

    def reset(self) -> None:
        """Forget every resource, as a fresh account would look."""
        reset_url = f"{self.endpoint_url}/moto-api/reset"
        request = urllib.request.Request(reset_url, method="POST")  # noqa: S310 - loopback URL
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL
            json.load(response)

    def stop(self) -> None:
        self.server.stop()


type Middleware = Callable[[Any], Any]


class _WrappedMotoServer(ThreadedMotoServer):
    """moto's threaded server with a WSGI layer around its application (the local stack's send recorder)."""

    def __init__(self, middleware: Middleware, *, ip_address: str, port: int, verbose: bool) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=verbose)
        self._middleware = middleware

    def _server_entry(self) -> None:
        app = self._middleware(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def start_moto_server(middleware: Middleware | None = None) -> MotoServer:
    # werkzeug logs every request at INFO; the stack's own logs say what matters.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = (
        ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        if middleware is None
        else _WrappedMotoServer(middleware, ip_address=LOOPBACK, port=0, verbose=False)
    )
    server.start()
    host, port = server.get_host_and_port()
    return MotoServer(server=server, endpoint_url=f"http://{host}:{port}")
