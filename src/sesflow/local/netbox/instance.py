"""One NetBox instance: its root folder with `conf/configuration.py`, and the commands run against it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sesflow.local.netbox.errors import NetBoxServiceError, log_tail
from sesflow.local.ports import LOOPBACK

# Fixed on purpose: v2 tokens are hashed with the pepper, so the cached seed only works with the same one.
# Test instances on loopback only; never a real deployment's values.
SECRET_KEY = "sesflow-local-netbox-secret-key-for-tests-only-0123456789abcdef"  # noqa: S105
API_TOKEN_PEPPER = "sesflow-local-netbox-token-pepper-for-tests-only-0123456789abcdef"  # noqa: S105

_CONFIGURATION = """\
# Written by sesflow.local.netbox for a throwaway NetBox on loopback.
ALLOWED_HOSTS = [{host!r}, "localhost"]
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": {database!r},
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": {host!r},
        "PORT": {db_port},
        "CONN_MAX_AGE": 300,
        # A per-test reset drops the database under open connections; check them before use.
        "CONN_HEALTH_CHECKS": True,
    }}
}}
REDIS = {{
    name: {{
        "HOST": {host!r}, "PORT": {redis_port}, "USERNAME": "", "PASSWORD": "",
        "DATABASE": number, "SSL": False,
    }}
    for number, name in enumerate(("tasks", "caching"))
}}
SECRET_KEY = {secret_key!r}
API_TOKEN_PEPPERS = {{1: {pepper!r}}}
# Webhooks before search indexing: NetBox queues one index job per object written (~0.1 s each), so after a
# bulk write a webhook in the same "default" queue would wait seconds behind them.
QUEUE_MAPPINGS = {{"webhook": "high"}}
PLUGINS = ["notices"]
PLUGINS_CONFIG = {{"notices": {{}}}}
CENSUS_REPORTING_ENABLED = False
RELEASE_CHECK_URL = None
ISOLATED_DEPLOYMENT = True
"""


@dataclass(frozen=True)
class NetBoxInstance:
    bin_dir: Path
    root: Path

    def configure(self, *, database: str, db_port: int, redis_port: int) -> None:
        conf_dir = self.root / "conf"
        conf_dir.mkdir(parents=True, exist_ok=True)
        text = _CONFIGURATION.format(
            host=LOOPBACK,
            database=database,
            db_port=db_port,
            redis_port=redis_port,
            secret_key=SECRET_KEY,
            pepper=API_TOKEN_PEPPER,
        )
        (conf_dir / "configuration.py").write_text(text)

    def environment(self) -> dict[str, str]:
        environment = {name: value for name, value in os.environ.items() if not name.startswith("NETBOX_")}
        environment["NETBOX_ROOT"] = str(self.root)
        environment["PATH"] = f"{self.bin_dir}{os.pathsep}{environment.get('PATH', '')}"
        return environment

    def manage(self, arguments: list[str], log_path: Path, timeout: float) -> None:
        """Run `netbox <arguments>` (NetBox's manage.py) to completion, its output appended to `log_path`."""
        command = [str(self.bin_dir / "netbox"), *arguments]
        with log_path.open("ab") as log:
            try:
                subprocess.run(  # noqa: S603 - our own fixed arguments
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.environment(),
                    cwd=self.root,
                    check=True,
                    timeout=timeout,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                raise NetBoxServiceError(
                    f"netbox {arguments[0]} failed: {error}\n{log_tail(log_path)}"
                ) from error

    def spawn(self, executable: str, arguments: list[str], log_path: Path) -> subprocess.Popen[bytes]:
        """Start a program from NetBox's virtualenv in its own session (a Ctrl-C is ours to pass on)."""
        with log_path.open("ab") as log:
            return subprocess.Popen(  # noqa: S603 - our own fixed arguments
                [str(self.bin_dir / executable), *arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.environment(),
                cwd=self.root,
                start_new_session=True,
            )
