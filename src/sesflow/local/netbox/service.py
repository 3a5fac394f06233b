"""A running NetBox with netbox-notices: start it from the cached seed, reset it between tests, stop it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sesflow.local.netbox.bootstrap import ADMIN_V1, ADMIN_V2, READER_V2
from sesflow.local.netbox.cache import NetBoxCache
from sesflow.local.netbox.environment import ensure_venv
from sesflow.local.netbox.instance import NetBoxInstance
from sesflow.local.netbox.postgres import PostgresCluster
from sesflow.local.netbox.processes import stop_process, stop_processes
from sesflow.local.netbox.redis import RedisServer
from sesflow.local.netbox.system import make_runtime_dir
from sesflow.local.netbox.template import ensure_seed
from sesflow.local.netbox.web import RQ_QUEUES, start_gunicorn, start_rq_worker, wait_until_ready
from sesflow.local.ports import LOOPBACK, free_ports

DATABASE = "netbox"
SEED_DATABASE = "netbox_seed"
TASKS_REDIS_DATABASE, CACHE_REDIS_DATABASE = 0, 1  # configuration.py: "tasks" is 0, "caching" is 1


@dataclass(frozen=True)
class NetBoxTokens:
    """API tokens baked into the seed, as a client sends them."""

    admin: str = ADMIN_V2.value
    admin_v1: str = ADMIN_V1.value
    reader: str = READER_V2.value


#: How often the RQ worker is checked and, if it has exited, started again.
WORKER_CHECK_SECONDS = 0.5


@dataclass
class RunningNetBox:
    url: str
    status: dict[str, Any]
    work_dir: Path
    postgres: PostgresCluster
    redis: RedisServer
    web: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    tokens: NetBoxTokens = field(default_factory=NetBoxTokens)
    _running: ExitStack = field(default_factory=ExitStack)
    _spawn_worker: Callable[[], subprocess.Popen[bytes]] | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _worker_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self._spawn_worker is not None:
            threading.Thread(target=self._supervise_worker, name="rq-worker-supervisor", daemon=True).start()

    def reset(self) -> None:
        """Back to the seed: no queued background job, a fresh copy of the template database and an empty
        cache (about 0.2 s).

        The queued jobs go first: they belong to the previous test's objects. Left there, its webhooks would
        reach the next test's receiver, and its search-index jobs (one per object written, ~0.1 s each: a
        few hundred after a bulk test) would hold the next test's webhook back for many seconds. The task
        database itself is not flushed: that would drop the RQ worker's registration until its next
        heartbeat, and /api/status/ would report no worker."""
        self.keep_worker_running()
        self.redis.clear_queues(TASKS_REDIS_DATABASE, RQ_QUEUES)
        self.postgres.clone(SEED_DATABASE, DATABASE)
        self.redis.flush_database(CACHE_REDIS_DATABASE)
        self.keep_worker_running()

    def keep_worker_running(self) -> None:
        """Start the RQ worker again if it has exited. It can die when a job it is finishing reaches for the
        database in the instant a reset has it dropped ("database does not exist"); a dead worker delivers
        no webhook, so it is started again at once, as a service manager would."""
        with self._worker_lock:
            if self.worker.poll() is None or self._spawn_worker is None or self._stopping.is_set():
                return
            # A job's work horse may outlive the worker that forked it: the whole process group goes.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker = self._spawn_worker()
            self._running.callback(stop_process, self.worker)

    def _supervise_worker(self) -> None:
        while not self._stopping.wait(WORKER_CHECK_SECONDS):
            self.keep_worker_running()

    def process_ids(self) -> dict[str, int]:
        postgres_pid = self.postgres.pid()
        ids = {"gunicorn": self.web.pid, "rqworker": self.worker.pid, "redis": self.redis.process.pid}
        return ids | ({"postgres": postgres_pid} if postgres_pid is not None else {})

    def stop(self) -> None:
        """Stop every program by process id, the NetBox ones before the Redis and PostgreSQL they use."""
        self._stopping.set()
        with self._worker_lock:
            self._running.close()


def start_netbox(
    cache: NetBoxCache | None = None, *, workers: int = 2, ready_timeout: float = 120.0, http_port: int = 0
) -> RunningNetBox:
    """Start NetBox on free loopback ports (its web on `http_port` when given, so a person can bookmark it);
    the first call on a machine installs and migrates (~5 min)."""
    cache = cache or NetBoxCache.default()
    bin_dir = ensure_venv(cache)
    seed_dump = ensure_seed(cache, bin_dir)
    work_dir = make_runtime_dir("run")
    with ExitStack() as running:
        running.callback(shutil.rmtree, work_dir, ignore_errors=True)
        postgres_port, redis_port, free_http_port = free_ports(3)
        http_port = http_port or free_http_port
        postgres = PostgresCluster.create(work_dir, postgres_port)
        postgres.start()
        running.callback(postgres.stop)
        redis = RedisServer.start(work_dir, redis_port)
        running.callback(redis.stop)
        postgres.restore(seed_dump, SEED_DATABASE)
        postgres.make_template(SEED_DATABASE)
        postgres.clone(SEED_DATABASE, DATABASE)
        instance = NetBoxInstance(bin_dir, work_dir)
        instance.configure(database=DATABASE, db_port=postgres_port, redis_port=redis_port)
        worker_log, web_log = work_dir / "rqworker.log", work_dir / "gunicorn.log"
        worker = start_rq_worker(instance, worker_log)
        running.callback(stop_process, worker)
        web = start_gunicorn(instance, http_port, workers, web_log)
        # SIGQUIT: gunicorn's quick shutdown; a throwaway instance has no request worth a graceful wait.
        running.callback(stop_processes, [(web, signal.SIGQUIT), (worker, signal.SIGTERM)])
        url = f"http://{LOOPBACK}:{http_port}"
        programs = {"gunicorn": (web, web_log), "rqworker": (worker, worker_log)}
        status = wait_until_ready(url, ADMIN_V2.value, programs, ready_timeout)
        return RunningNetBox(
            url,
            status,
            work_dir,
            postgres,
            redis,
            web,
            worker,
            _running=running.pop_all(),
            _spawn_worker=lambda: start_rq_worker(instance, worker_log),
        )
    raise AssertionError("unreachable: the with block returns or raises")


@contextmanager
def running_netbox(
    cache: NetBoxCache | None = None, *, workers: int = 2, http_port: int = 0
) -> Iterator[RunningNetBox]:
    netbox = start_netbox(cache, workers=workers, http_port=http_port)
    try:
        yield netbox
    finally:
        netbox.stop()
