"""The SAM template as data: load it, transform it with the SAM CLI's translator, and evaluate its
conditions for one set of parameters (a small evaluator of Conditions, Fn::If and AWS::NoValue)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ..harness.tools import tool_path

REPO = Path(__file__).resolve().parents[2]
SAM_DIR = REPO / "deploy" / "sam"
TEMPLATE = SAM_DIR / "template.yaml"
#: scripts/setup installs the SAM CLI into its own tool environment here (its pins clash with ours).
TOOLS = REPO / ".tools"
SAM_PYTHON = TOOLS / "uv" / "aws-sam-cli" / "bin" / "python"

#: What a deploy needs, and a value per switch for "on" (off is the parameter's default, all empty).
BASE_PARAMETERS = {
    "NetBoxUrl": "https://netbox.example.com",
    "NetBoxApiToken": "0123456789abcdef0123456789abcdef01234567",
    "InboundS3BucketName": "notices-inbound-123456789012",
    "SesFromAddress": "noc@notices.example.com",
}
SWITCHES = {
    "inbound": {"SesReceiptDomain": "notices.example.com"},
    "polling": {"EnableOutboundPolling": "true"},
    "webhook": {"WebhookSecret": "webhook-test-secret"},
    "vpc": {"VpcSubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b", "VpcSecurityGroupIds": "sg-0123456789abcdef0"},
}
OFF = {"polling": {"EnableOutboundPolling": "false"}}


def require_sam() -> Path:
    """The SAM CLI that scripts/setup installs; a clear failure, not a skip, when it is missing."""
    sam = tool_path("sam")
    if not SAM_PYTHON.is_file():
        pytest.fail(
            f"the SAM CLI's environment is missing under {TOOLS}: run scripts/setup (or `make setup`)"
        )
    return sam


def tool_environment() -> dict[str, str]:
    """Offline: no telemetry, a region for the translator, no real credentials needed."""
    return {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def load_template() -> dict[str, Any]:
    """The template with its short-form tags (!Ref, !Sub, ...) turned into the long form."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches and template is not None, [str(match) for match in matches]
    return dict(json.loads(json.dumps(template)))


def parameters_for(**switches: bool) -> dict[str, str]:
    parameters = dict(BASE_PARAMETERS)
    for name, on in switches.items():
        parameters.update(SWITCHES[name] if on else OFF.get(name, {}))
    return parameters


def transform(parameter_sets: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The SAM transform of the template for each parameter set, in one run of the translator."""
    require_sam()
    template = load_template()
    # The translator takes the packaged form: `sam package` has replaced the local CodeUri with an S3 URI.
    template["Globals"]["Function"]["CodeUri"] = "s3://sesflow-artifacts/notices.zip"
    request = json.dumps({"template": template, "parameter_sets": parameter_sets})
    done = subprocess.run(
        [str(SAM_PYTHON), str(Path(__file__).with_name("sam_translate.py"))],
        input=request,
        capture_output=True,
        text=True,
        env=tool_environment(),
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        pytest.fail(f"the SAM transform failed: {done.stderr[-2000:]}")
    return list(json.loads(done.stdout))


# --- conditions ---------------------------------------------------------------------------------------------


class Evaluator:
    """A template's Conditions for given parameters; resolves Fn::If and AWS::NoValue in values."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        declared = template.get("Parameters", {})
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
        self.parameters.update(parameters)
        self.definitions: Mapping[str, Any] = template.get("Conditions", {})
        self.conditions: dict[str, bool] = {}
        for name in self.definitions:
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self._truth(self.definitions[name])
        return self.conditions[name]

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Fn::Equals":
                left, right = (self._scalar(item) for item in argument)
                return left == right
            if function == "Fn::Not":
                return not self._truth(argument[0])
            if function == "Fn::And":
                return all(self._truth(item) for item in argument)
            if function == "Fn::Or":
                return any(self._truth(item) for item in argument)
            if function == "Condition":
                return self.condition(argument)
        raise ValueError(f"not a condition this evaluator knows: {node!r}")

    def _scalar(self, node: Any) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in self.parameters:
            return self.parameters[node["Ref"]]
        raise ValueError(f"a condition compares something other than a parameter: {node!r}")

    def resolve(self, node: Any) -> Any:
        """The value with every Fn::If decided and every AWS::NoValue removed (None for a removed value)."""
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, then, otherwise = node["Fn::If"]
                return self.resolve(then if self.condition(name) else otherwise)
            if node == {"Ref": "AWS::NoValue"}:
                return None
            resolved = {key: self.resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not None}
        if isinstance(node, list):
            return [item for item in (self.resolve(value) for value in node) if item is not None]
        return node

    def resources(self, template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The resources this parameter set creates, their properties resolved."""
        return {
            logical_id: self.resolve(resource)
            for logical_id, resource in template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def outputs(self, template: Mapping[str, Any]) -> set[str]:
        return {
            name
            for name, output in template.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }
