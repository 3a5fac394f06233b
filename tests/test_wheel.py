"""An installed sesflow starts: the wheel, installed with only the `cli` extra into a fresh virtualenv, runs
`sesflow --help` and the relay's settings check from outside the checkout, and a notices command names
the extra it needs instead of failing on an import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .harness.tools import tool_path

pytestmark = pytest.mark.wheel

REPO = Path(__file__).resolve().parents[1]

#: A valid relay environment (the names `sesflow config check --flow relay` reads).
RELAY_ENVIRONMENT = {
    "IDEMPOTENCY_TABLE": "sesflow-idempotency",
    "INCOMING_BUCKET": "relay-incoming",
    "ATTACHMENTS_BUCKET": "relay-attachments",
    "SENDER_EMAIL": "relay@iot.example.com",
    "SNS_TOPIC": "arn:aws:sns:eu-west-1:123456789012:relay-fallback",
}


def uv_command() -> list[str]:
    """The project's uv, where scripts/setup installs it (never PATH's)."""
    return [str(tool_path("uv"))]


def run_uv(arguments: list[str], cwd: Path) -> None:
    """Run uv from its cache first (fast, and no network when `uv sync` already fetched the locked
    packages); only when that misses, once more against the configured index."""
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    environment.pop("VIRTUAL_ENV", None)  # every command names its interpreter
    failures = []
    for offline in (["--offline"], []):
        done = subprocess.run(
            [*uv_command(), *arguments, *offline, "--quiet"],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode == 0:
            return
        failures.append(done.stderr)
    pytest.fail(f"uv {' '.join(arguments)} failed:\n" + "\n".join(failures))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from the working tree as a release would be."""
    dist = tmp_path_factory.mktemp("dist")
    run_uv(["build", "--wheel", "--out-dir", str(dist), str(REPO)], cwd=REPO)
    (wheel,) = dist.glob("sesflow-*.whl")
    return wheel


def install(wheel: Path, extra: str, work: Path) -> Path:
    """A fresh virtualenv holding the wheel with one extra, at the locked versions; returns its bin folder."""
    pins = work / "requirements.txt"
    export = ["export", "--frozen", "--no-hashes", "--no-default-groups", "--no-emit-project"]
    run_uv([*export, "--extra", extra, "--output-file", str(pins)], cwd=REPO)
    venv = work / "venv"
    run_uv(["venv", str(venv), "--python", sys.executable], cwd=work)
    run_uv(
        ["pip", "install", "--python", str(venv / "bin" / "python"), "-r", str(pins), f"{wheel}[{extra}]"],
        cwd=work,
    )
    return venv / "bin"


@pytest.fixture(scope="module")
def installed(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(built, "cli", tmp_path_factory.mktemp("cli"))


def sesflow(
    bin_dir: Path, cwd: Path, *arguments: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    """Run the installed command as a stranger would: from elsewhere, with a bare environment."""
    return subprocess.run(
        [str(bin_dir / "sesflow"), *arguments],
        cwd=cwd,
        env={
            "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
            "HOME": str(cwd),
            "COLUMNS": "200",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_wheel_installs_code_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c", "import sesflow; print(sesflow.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where).is_relative_to(installed.parent), where
    assert not Path(where).is_relative_to(REPO)


def test_installed_sesflow_lists_every_command_with_the_cli_extra_alone(
    installed: Path, tmp_path: Path
) -> None:
    done = sesflow(installed, tmp_path, "--help")
    assert done.returncode == 0, done.stdout + done.stderr
    for command in ("config", "demo", "local", "netbox", "notices", "relay"):
        assert f" {command} " in done.stdout, done.stdout


def test_installed_sesflow_checks_the_relay_settings(installed: Path, tmp_path: Path) -> None:
    done = sesflow(installed, tmp_path, "config", "check", "--flow", "relay", **RELAY_ENVIRONMENT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The relay settings are valid." in done.stdout


def test_a_notices_command_without_its_extra_names_the_extra_in_one_line(
    installed: Path, tmp_path: Path
) -> None:
    done = sesflow(installed, tmp_path, "notices", "inbound", "plan", "notice.eml")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert "pip install 'sesflow[notices]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_local_extra_brings_what_the_local_stack_and_the_demo_import(
    built: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    bin_dir = install(built, "local", tmp_path_factory.mktemp("local"))
    imports = (
        "import sesflow.local.stack, sesflow.local.demo, sesflow.notices.inbound, sesflow.notices.outbound"
    )
    done = subprocess.run(
        [str(bin_dir / "python"), "-c", imports], capture_output=True, text=True, cwd=bin_dir, check=False
    )
    assert done.returncode == 0, done.stderr
