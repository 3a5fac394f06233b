"""The inbound Lambda's wiring (the contract path is `sesflow.notices.inbound.handler`): the deps from the
environment, the handler, and the SnapStart hooks, registered under the handler's module name."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from sesflow import snapstart
from sesflow.aws.clients import default_clients
from sesflow.aws.store import ObjectStore
from sesflow.config import inbound_settings
from sesflow.netbox.client import NetBoxClient
from sesflow.notices.inbound.context import InboundDeps
from sesflow.notices.inbound.in_netbox import NoticesInNetBox
from sesflow.notices.inbound.parser import warm_parser
from sesflow.notices.inbound.pipeline import run
from sesflow.notices.inbound.receipt import UnreadableReceipt
from sesflow.notices.inbound.report import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: The module the handler is named by: SnapStart's hooks are keyed by it.
HANDLER_MODULE = "sesflow.notices.inbound"


@cache
def default_deps() -> InboundDeps:
    settings = inbound_settings()
    netbox = NoticesInNetBox(NetBoxClient.from_settings(settings.netbox))
    return InboundDeps(settings, ObjectStore(default_clients().s3), netbox)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Raises on transient failures: SES invokes asynchronously, so Lambda retries and finally uses the
    on-failure destination."""
    try:
        outcomes = run(event, default_deps())
    except UnreadableReceipt as error:
        # Not an SES receipt: a retry would read the same event, so it is reported and not raised.
        logger.warning("inbound event unreadable", extra={"reason": str(error)})
        metrics.add_metric(name="inbound_unreadable_event", unit=MetricUnit.Count, value=1)
        return {"results": [], "error": str(error)}
    return {"results": [{"message_id": o.message_id, "result": str(o.result)} for o in outcomes]}


def warm() -> None:
    """Before a snapshot: the parser with its caches, and the registrable domains of the parser's senders
    (the public suffix list), which the first sender no listed domain claims would otherwise load."""
    warm_parser()
    default_deps().providers.registrable  # noqa: B018 - loaded for its side effect, the cached table


snapstart.register_handler(HANDLER_MODULE, settings=inbound_settings, deps=default_deps, warm=warm)
