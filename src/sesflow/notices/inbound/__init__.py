"""Notices inbound: provider maintenance mail from SES's receipt rule → NetBox. The steps are named in
`pipeline.py`; `handler` is the Lambda's contract path (its wiring is `lambda_handler.py`)."""

from sesflow.notices.inbound.lambda_handler import handler

__all__ = ["handler"]
