"""CDK app for the sesflow relay (see README.md).

python bundle.py      # build the function's code first
cdk deploy --context SenderEmail=... --context RecipientEmail=... --context ConfigurationSetName=...
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from relay_parts.context import ContextError, RelayContext
from relay_stack import RelayStack

HERE = Path(__file__).resolve().parent
BUNDLE = HERE / "build" / "relay"


def build_app(app: cdk.App | None = None, bundle: Path = BUNDLE) -> cdk.App:
    app = app or cdk.App()
    settings = RelayContext.from_node(app.node)
    # `--context Bundle=DIR` builds from another folder (the checks point it at src/, which holds sesflow).
    bundle = Path(str(app.node.try_get_context("Bundle") or bundle))
    if not (bundle / "sesflow" / "relay" / "distribute.py").is_file():
        raise ContextError(
            f"the function's code is not built: run `python {HERE / 'bundle.py'}` first ({bundle})"
        )
    stack_name = str(app.node.try_get_context("StackName") or "SesflowRelay")
    RelayStack(
        app,
        stack_name,
        settings=settings,
        code=lambda_.Code.from_asset(str(bundle)),
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
        description="sesflow relay: SES receiving -> S3 -> SQS -> Lambda -> SES",
    )
    # cdk-nag's AwsSolutions pack checks the stack at synthesis; an unacknowledged finding fails `cdk synth`.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    try:
        app = build_app()
    except ContextError as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
