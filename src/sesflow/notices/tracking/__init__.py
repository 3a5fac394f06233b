"""Notices tracking: SES sending events → the prepared notification's status and journal in NetBox.
The steps are in `pipeline`; `handler` (the Lambda's contract path) and its `default_deps` in `wiring`."""

from sesflow.notices.tracking.wiring import default_deps, handler

__all__ = ["default_deps", "handler"]
