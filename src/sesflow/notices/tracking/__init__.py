"""Notices tracking: SES sending events → the prepared notification's status and journal in NetBox.
The steps are in `pipeline`; `handler` (the Lambda's contract path) is wired in `wiring`."""

from sesflow.notices.tracking.wiring import handler

__all__ = ["handler"]
