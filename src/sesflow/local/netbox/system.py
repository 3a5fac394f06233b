"""The Debian-packaged servers NetBox runs on, and running them as the `postgres` user when we are root."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

from sesflow.local.netbox.errors import NetBoxServiceError

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
_HOW_TO_INSTALL = "run scripts/setup (or: apt-get install postgresql-15 redis-server)"


def postgres_tool(name: str) -> str:
    path = POSTGRES_BIN / name
    if not path.is_file():
        raise NetBoxServiceError(f"PostgreSQL 15 is not installed ({path} is missing): {_HOW_TO_INSTALL}")
    return str(path)


def redis_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise NetBoxServiceError(f"Redis is not installed ({name} not on PATH): {_HOW_TO_INSTALL}")
    return found


def as_postgres_owner(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root, so root runs its server tools as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def make_postgres_owned_dir(path: Path) -> None:
    """A folder the PostgreSQL server may write (`initdb` cannot create one inside a root-owned folder)."""
    path.mkdir(mode=0o700, parents=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(path, owner.pw_uid, owner.pw_gid)


#: RAM-backed folders for the throwaway clusters: creating a database makes ~2300 files, which takes ~2 s on
#: some disks and ~30 ms in memory.
_MEMORY_DIRS = (Path("/dev/shm"),)  # noqa: S108 - only a parent for mkdtemp
_MEMORY_DIR_MIN_FREE = 2 * 1024**3


def _runtime_parent() -> Path | None:
    for candidate in _MEMORY_DIRS:
        if candidate.is_dir() and os.access(candidate, os.W_OK):
            usage = shutil.disk_usage(candidate)
            if usage.free >= _MEMORY_DIR_MIN_FREE:
                return candidate
    return None  # the system temp folder


def make_runtime_dir(purpose: str) -> Path:
    """A fresh folder, in memory when there is room, that the `postgres` user can pass through (the cache may
    sit in a home folder it cannot enter)."""
    path = Path(tempfile.mkdtemp(prefix=f"sesflow-netbox-{purpose}-", dir=_runtime_parent()))
    path.chmod(0o755)
    return path
