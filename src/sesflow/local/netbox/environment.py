"""NetBox's own Python 3.12 virtualenv, pinned by the committed constraints file, created once per cache."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from sesflow.local.netbox.cache import CONSTRAINTS, NETBOX_VERSION, NOTICES_VERSION, NetBoxCache
from sesflow.local.netbox.errors import NetBoxServiceError, log_tail

_INSTALL_TIMEOUT = 1200.0


def find_python312() -> Path:
    """A Python 3.12: this one when it is 3.12, else the first found where scripts/find-python looks."""
    if sys.version_info[:2] == (3, 12):
        return Path(sys.base_prefix) / "bin" / "python3.12"
    candidates = [shutil.which("python3.12")]
    candidates += [str(path) for path in sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    candidates += ["/usr/local/bin/python3.12", "/usr/bin/python3.12"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise NetBoxServiceError("NetBox 4.7 needs Python 3.12 and none was found (see scripts/find-python)")


def ensure_venv(cache: NetBoxCache) -> Path:
    """The virtualenv with NetBox and netbox-notices, created on first use; returns its bin folder."""
    if not cache.venv_marker.is_file():
        with cache.exclusive():
            if not cache.venv_marker.is_file():
                _install(cache)
    return cache.venv / "bin"


def _install(cache: NetBoxCache) -> None:
    if cache.venv.exists():
        shutil.rmtree(cache.venv)  # an interrupted install: start over rather than trust it
    cache.logs.mkdir(parents=True, exist_ok=True)
    log_path = cache.logs / "install.log"
    python = find_python312()
    pip_install = [
        str(cache.venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "--constraint",
        str(CONSTRAINTS),
        f"netbox=={NETBOX_VERSION}",
        f"netbox-notices=={NOTICES_VERSION}",
    ]
    with log_path.open("wb") as log:
        for command in ([str(python), "-m", "venv", str(cache.venv)], pip_install):
            try:
                subprocess.run(  # noqa: S603 - fixed arguments
                    command, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=_INSTALL_TIMEOUT
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                raise NetBoxServiceError(
                    f"installing NetBox failed: {error}\n{log_tail(log_path)}"
                ) from error
    cache.venv_marker.write_text(f"netbox=={NETBOX_VERSION}\nnetbox-notices=={NOTICES_VERSION}\n")
