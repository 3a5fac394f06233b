"""The relay's CDK app as the tests load it: by path, the way `cdk synth` runs `deploy/cdk/app.py`, with the
smallest context a deployment needs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
CDK_DIR = REPO / "deploy" / "cdk"

#: The context values a deployment must give; everything else has a default.
REQUIRED = {
    "SenderEmail": "relay@ingest.example.com",
    "RecipientEmail": "devices@ingest.example.com",
    "ConfigurationSetName": "relay-tracking",
}


def load_cdk_module(name: str, path: Path) -> ModuleType:
    """Import a deploy/cdk module by path; app.py imports its siblings by their bare names."""
    if str(CDK_DIR) not in sys.path:
        sys.path.insert(0, str(CDK_DIR))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def relay_stack_module() -> ModuleType:
    return load_cdk_module("relay_stack", CDK_DIR / "relay_stack.py")


def cdk_app_module() -> ModuleType:
    return load_cdk_module("sesflow_cdk_app", CDK_DIR / "app.py")
