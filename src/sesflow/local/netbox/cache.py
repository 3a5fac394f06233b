"""Where NetBox's virtualenv and its migrated, seeded database live between runs, per version pair."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NETBOX_VERSION = "4.7.3"
NOTICES_VERSION = "1.3.0"
#: Bump when the bootstrap (users, tokens) changes, so every machine rebuilds its seed from the migrated dump.
SEED_REVISION = 1

CONSTRAINTS = Path(__file__).with_name("constraints.txt")


def default_cache_root() -> Path:
    """`$SESFLOW_CACHE`, else `$XDG_CACHE_HOME/sesflow`, else `~/.cache/sesflow`."""
    explicit = os.environ.get("SESFLOW_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "sesflow"


@dataclass(frozen=True)
class NetBoxCache:
    """The cache folder for one NetBox + plugin version pair."""

    root: Path

    @classmethod
    def default(cls) -> NetBoxCache:
        return cls(default_cache_root() / f"netbox-{NETBOX_VERSION}-notices-{NOTICES_VERSION}")

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def venv_marker(self) -> Path:
        """Written last by the installer: a venv without it is a half-finished install."""
        return self.venv / ".sesflow-installed"

    @property
    def migrated_dump(self) -> Path:
        """The database right after `migrate`: the ten-minute step, kept apart so a new seed skips it."""
        return self.root / "migrated.dump"

    @property
    def seed_dump(self) -> Path:
        """The migrated database plus users and tokens: what every start restores."""
        return self.root / f"seed-{SEED_REVISION}.dump"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def is_prepared(self) -> bool:
        return self.venv_marker.is_file() and self.seed_dump.is_file()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the cache alone: two processes must not install or migrate into it at once."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
