"""What each handler module imports at module level, in a fresh interpreter (`python -X importtime`): only
what every invocation uses. The heavy or path-specific modules load where they are used (or before a SnapStart
snapshot), and no flow imports another. Module presence is checked here; the times are the benchmark's
(`benchmarks/coldstart.py`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

HANDLERS = {
    "relay": "sesflow.relay.distribute",
    "inbound": "sesflow.notices.inbound",
    "outbound": "sesflow.notices.outbound",
    "tracking": "sesflow.notices.tracking",
}
#: Loaded only on the paths that need them, never by importing a handler.
NEVER_AT_IMPORT = {
    "circuit_maintenance_parser",  # inbound's parser: the first mail past the gate (or priming)
    "bs4",
    "numpy",
    "timezonefinder",
    "publicsuffixlist",  # inbound's registrable domains: the first sender no listed domain claims
    "css_inline",  # outbound's composing: the first send
    "icalendar",
    "sesflow.mail.compose",
    "email_validator",  # the settings that name an address, the first recipient checked
    "dns",
    "aws_lambda_powertools.event_handler",  # outbound's webhook only
    "sesflow.notices.outbound.webhook",
    "aws_lambda_powertools.utilities.parameters",  # Secrets Manager: only with a secret configured
    "sesflow.local",
    "sesflow.cli",
}


#: What one flow never uses, though another does (the packages load their modules on first use).
NOT_FOR = {
    "outbound": {"sesflow.mail.parse", "sesflow.mail.attachments", "sesflow.aws.store", "sesflow.aws.sns"},
    "tracking": {"sesflow.mail", "sesflow.aws.ses", "sesflow.aws.sns", "sesflow.aws.store"},
    "inbound": {"sesflow.aws.ses", "sesflow.aws.sns"},
    "relay": {"sesflow.netbox"},
}


def imported_by(module: str) -> set[str]:
    """Every module a fresh interpreter imports for `import <module>`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            names.add(line.rpartition("|")[2].strip())
    return names


def packages(names: set[str]) -> set[str]:
    """The names and each of their parent packages (`a.b.c` → `a`, `a.b`, `a.b.c`)."""
    found = set()
    for name in names:
        parts = name.split(".")
        found.update(".".join(parts[: end + 1]) for end in range(len(parts)))
    return found


@pytest.fixture(scope="module")
def imports() -> dict[str, set[str]]:
    return {flow: packages(imported_by(module)) for flow, module in HANDLERS.items()}


@pytest.mark.parametrize("flow", sorted(HANDLERS))
def test_a_handler_module_imports_nothing_heavy_or_path_specific(
    imports: dict[str, set[str]], flow: str
) -> None:
    assert imports[flow] & NEVER_AT_IMPORT == set()


@pytest.mark.parametrize("flow", sorted(HANDLERS))
def test_a_handler_module_leaves_out_what_only_other_flows_use(
    imports: dict[str, set[str]], flow: str
) -> None:
    assert imports[flow] & NOT_FOR[flow] == set()


@pytest.mark.parametrize("flow", sorted(HANDLERS))
def test_no_flow_imports_another(imports: dict[str, set[str]], flow: str) -> None:
    others = {module for other, module in HANDLERS.items() if other != flow}
    assert imports[flow] & others == set()
    assert HANDLERS[flow] in imports[flow]


def test_what_every_invocation_uses_is_imported_up_front(imports: dict[str, set[str]]) -> None:
    """The other side of the budget: what each flow needs on every event is not deferred to it."""
    for flow in HANDLERS:
        assert {"boto3", "aws_lambda_powertools.logging", "sesflow.config", "sesflow.snapstart"} <= imports[
            flow
        ]
    for flow in ("relay", "tracking"):  # SQS batches with partial failures
        assert "aws_lambda_powertools.utilities.batch" in imports[flow]
    assert "sesflow.notices.rounds" in imports["tracking"] and "sesflow.notices.rounds" in imports["outbound"]
