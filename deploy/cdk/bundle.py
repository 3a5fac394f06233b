"""Build the relay function's code into deploy/cdk/build/relay: the `sesflow` package and its runtime
dependencies only (boto3 comes with the Lambda runtime; tests, the CLI and the notices parser stay out).

    python deploy/cdk/bundle.py            # the project's uv (scripts/setup) when installed, else pip

The wheels are pure Python, so the same folder serves the arm64 function built by the stack.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TARGET = HERE / "build" / "relay"
#: Lambda's python3.12 runtime on arm64 (Amazon Linux 2023).
PLATFORM = ["--python-version", "3.12", "--platform", "manylinux2014_aarch64", "--only-binary=:all:"]


def project_uv() -> str | None:
    """uv where scripts/setup installs it (scripts/tool-path knows where), not whatever PATH holds."""
    found = subprocess.run(  # noqa: S603 - a script of this repository, fixed arguments
        [str(REPO / "scripts" / "tool-path"), "uv"], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() if found.returncode == 0 else None


def command(target: Path) -> list[str]:
    uv = project_uv()
    if uv:
        return [
            uv, "pip", "install", "--quiet", "--target", str(target),
            "--python-platform", "aarch64-manylinux2014", "--python-version", "3.12", str(REPO),
        ]  # fmt: skip
    return [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), *PLATFORM, str(REPO)]


def main() -> None:
    if TARGET.exists():
        shutil.rmtree(TARGET)
    TARGET.mkdir(parents=True)
    subprocess.run(command(TARGET), check=True)  # noqa: S603 - fixed arguments, no shell
    for junk in [*TARGET.glob("*.dist-info"), TARGET / "bin"]:
        shutil.rmtree(junk, ignore_errors=True)
    for cache in TARGET.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    size = sum(path.stat().st_size for path in TARGET.rglob("*") if path.is_file())
    print(f"built {TARGET} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
