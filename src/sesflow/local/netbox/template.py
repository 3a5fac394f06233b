"""The migrated, seeded database every start copies, built once per machine: migrations take ~10 minutes."""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

from sesflow.local.netbox.bootstrap import bootstrap_script
from sesflow.local.netbox.cache import NetBoxCache
from sesflow.local.netbox.instance import NetBoxInstance
from sesflow.local.netbox.postgres import PostgresCluster
from sesflow.local.netbox.redis import RedisServer
from sesflow.local.netbox.system import make_runtime_dir
from sesflow.local.ports import free_ports

_MIGRATE_TIMEOUT = 2400.0
_SHELL_TIMEOUT = 300.0
_DATABASE = "netbox"


def ensure_seed(cache: NetBoxCache, bin_dir: Path) -> Path:
    """The seed dump for this cache, built first if missing (one process builds; the others wait for it)."""
    if not cache.seed_dump.is_file():
        with cache.exclusive():
            if not cache.seed_dump.is_file():
                _build_seed(cache, bin_dir)
    return cache.seed_dump


def _build_seed(cache: NetBoxCache, bin_dir: Path) -> None:
    cache.logs.mkdir(parents=True, exist_ok=True)
    log_path = cache.logs / "build-seed.log"
    work_dir = make_runtime_dir("build")
    with ExitStack() as running:
        running.callback(shutil.rmtree, work_dir, ignore_errors=True)
        postgres_port, redis_port = free_ports(2)
        postgres = PostgresCluster.create(work_dir, postgres_port)
        postgres.start()
        running.callback(postgres.stop)
        redis = RedisServer.start(work_dir, redis_port)
        running.callback(redis.stop)
        instance = NetBoxInstance(bin_dir, work_dir)
        instance.configure(database=_DATABASE, db_port=postgres_port, redis_port=redis_port)
        if cache.migrated_dump.is_file():
            postgres.restore(cache.migrated_dump, _DATABASE)
        else:
            postgres.sql(f'CREATE DATABASE "{_DATABASE}"')
            instance.manage(["migrate", "--no-input"], log_path, _MIGRATE_TIMEOUT)
            postgres.dump(_DATABASE, cache.migrated_dump)
        instance.manage(["shell", "--no-startup", "--command", bootstrap_script()], log_path, _SHELL_TIMEOUT)
        postgres.dump(_DATABASE, cache.seed_dump)
