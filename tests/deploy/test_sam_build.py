"""`sam build` of the notices template, without Docker: the functions' folder holds the sesflow package and
its runtime dependencies, nothing test-only, fits Lambda's size limit, and imports every handler from the
bundle alone (plus boto3, which the runtime brings)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .sam_support import REPO, SAM_DIR, TEMPLATE, require_sam, tool_environment

pytestmark = pytest.mark.integration  # fetches the wheels from PyPI

FUNCTIONS = ("InboundFunction", "OutboundFunction", "TrackingFunction")
HANDLERS = ("sesflow.notices.inbound", "sesflow.notices.outbound", "sesflow.notices.tracking")
#: Lambda's limit for a function's unzipped code.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
#: The python3.12 runtime ships these; everything else must come from the bundle.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")


def python312() -> str:
    found = subprocess.run(
        [str(REPO / "scripts" / "find-python")], capture_output=True, text=True, check=False, timeout=60
    )
    if found.returncode != 0:
        pytest.fail(f"no Python 3.12 for `sam build`: {found.stderr}")
    return found.stdout.strip()


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    sam = require_sam()
    build_dir = tmp_path_factory.mktemp("sam-build")
    environment = tool_environment()
    # The python3.12 builder uses the first python3.12 on PATH.
    environment["PATH"] = os.pathsep.join([str(Path(python312()).parent), environment["PATH"]])
    done = subprocess.run(
        [
            str(sam),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(build_dir),
            "--manifest",
            "requirements.txt",
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=SAM_DIR,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield build_dir


def size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_each_function_holds_sesflow_and_its_runtime_dependencies(build: Path) -> None:
    for function in FUNCTIONS:
        folder = build / function
        for path in (
            "sesflow/notices/inbound/__init__.py",
            "sesflow/notices/outbound/__init__.py",
            "sesflow/notices/tracking/__init__.py",
        ):
            assert (folder / path).is_file(), f"{function}: {path} missing"
        for package in (
            "aws_lambda_powertools",
            "circuit_maintenance_parser",
            "css_inline",
            "email_validator",
        ):
            assert (folder / package).is_dir(), f"{function}: {package} missing"
        present = {path.name for path in folder.iterdir()}
        unwanted = {
            "tests",
            "pytest",
            "_pytest",
            "moto",
            "hypothesis",
            "aiosmtpd",
            "mypy",
            "ruff",
            *RUNTIME_PACKAGES,
        }
        assert not present & unwanted, f"{function} bundles {sorted(present & unwanted)}"
        assert not list((folder / "sesflow").rglob("__pycache__"))
        size = size_of(folder)
        print(f"{function}: {size / 1e6:.1f} MB unzipped")
        assert size < LAMBDA_UNZIPPED_LIMIT


def test_the_built_template_points_at_the_built_folders(build: Path) -> None:
    from cfnlint.decode import decode_str

    built, matches = decode_str((build / "template.yaml").read_text(encoding="utf-8"))
    assert not matches and built is not None
    resources = json.loads(json.dumps(built))["Resources"]
    for function in FUNCTIONS:
        assert resources[function]["Properties"]["CodeUri"] == function


def test_the_handlers_import_from_the_bundle_alone(build: Path) -> None:
    """Each module the handlers import comes from the bundle, the standard library or the runtime's boto3."""
    folder = build / "InboundFunction"
    probe = f"""
import importlib, json, sys
for name in {list(HANDLERS)!r}:
    importlib.import_module(name)
outside = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and "site-packages" in module.__file__
    and not module.__file__.startswith({str(folder)!r})
    and name.split(".")[0] not in {RUNTIME_PACKAGES!r}
)
print(json.dumps(outside))
"""
    # The bundle first; the project's site-packages after it stands in for the runtime's boto3.
    site_packages = next((REPO / ".venv" / "lib").glob("python3.12/site-packages"))
    environment = {
        "PYTHONPATH": os.pathsep.join([str(folder), str(site_packages)]),
        "PATH": os.environ["PATH"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [python312(), "-S", "-c", probe],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [], "imported from outside the bundle"
