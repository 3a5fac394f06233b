"""A throwaway PostgreSQL 15 cluster on a loopback port: create, start, SQL, dump, restore, clone, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sesflow.local.netbox.errors import NetBoxServiceError, log_tail
from sesflow.local.netbox.system import as_postgres_owner, make_postgres_owned_dir, postgres_tool
from sesflow.local.ports import LOOPBACK

SUPERUSER = "postgres"

#: Durability is worthless for a test database and costs time on every write.
_SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off "
    "-c shared_buffers=64MB -c max_connections=60"
)


def _run(command: list[str], what: str, timeout: float = 120.0) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own fixed arguments
            command, capture_output=True, text=True, check=True, timeout=timeout
        )
    except subprocess.CalledProcessError as error:
        raise NetBoxServiceError(f"{what} failed ({error.returncode}): {error.stderr.strip()}") from error
    except subprocess.TimeoutExpired as error:
        raise NetBoxServiceError(f"{what} took more than {timeout:.0f}s") from error
    return done.stdout


@dataclass(frozen=True)
class PostgresCluster:
    data_dir: Path
    socket_dir: Path
    port: int

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @classmethod
    def create(cls, parent: Path, port: int) -> PostgresCluster:
        """`initdb` a new cluster in `parent`, trusting local connections (loopback only, test data only)."""
        cluster = cls(parent / "pgdata", parent / "pgsocket", port)
        make_postgres_owned_dir(cluster.data_dir)
        make_postgres_owned_dir(cluster.socket_dir)
        initdb = [postgres_tool("initdb"), "-D", str(cluster.data_dir), "-U", SUPERUSER, "--auth=trust"]
        _run(as_postgres_owner([*initdb, "-E", "UTF8", "--locale=C.UTF-8"]), "initdb")
        return cluster

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses={LOOPBACK} -k {self.socket_dir} {_SERVER_OPTIONS}"
        pg_ctl = [
            postgres_tool("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            "60",
        ]
        try:
            _run(as_postgres_owner([*pg_ctl, "-o", options, "start"]), "starting PostgreSQL")
        except NetBoxServiceError as error:
            raise NetBoxServiceError(f"{error}\n{log_tail(self.log_path)}") from error

    def pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        return int(pid_file.read_text().split("\n", 1)[0])

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown by process id (SIGINT), waiting until the postmaster is gone."""
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def _client(self, tool: str) -> list[str]:
        return [postgres_tool(tool), "-h", LOOPBACK, "-p", str(self.port), "-U", SUPERUSER]

    def sql(self, *statements: str, database: str = "postgres") -> str:
        """Run each statement in its own transaction (DROP/CREATE DATABASE refuse to share one)."""
        command = [*self._client("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database]
        for statement in statements:
            command += ["-c", statement]
        return _run(command, f"SQL on {database}")

    def dump(self, database: str, path: Path) -> None:
        """A custom-format dump, written beside `path` and renamed, so a reader never sees half a file."""
        partial = path.with_name(path.name + ".partial")
        _run([*self._client("pg_dump"), "-Fc", "-f", str(partial), database], f"pg_dump {database}", 300)
        partial.replace(path)

    def restore(self, path: Path, database: str) -> None:
        self.sql(f'CREATE DATABASE "{database}"')
        restore = [*self._client("pg_restore"), "--no-owner", "--exit-on-error", "-d", database, str(path)]
        _run(restore, f"pg_restore {path.name}", 300)

    def make_template(self, database: str) -> None:
        """Freeze and lock a database so CREATE DATABASE … TEMPLATE never waits for a session on it."""
        self.sql("VACUUM (FREEZE, ANALYZE)", database=database)
        self.sql(f'ALTER DATABASE "{database}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')

    def clone(self, template: str, database: str) -> None:
        """Replace `database` with a fresh copy of `template`, cutting any open sessions."""
        self.sql(
            f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
            f'CREATE DATABASE "{database}" TEMPLATE "{template}"',
        )
