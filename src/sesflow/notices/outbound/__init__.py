"""Notices outbound: `ready` prepared notifications → SES → `sent`, exactly once (`pipeline.py` names the
steps). `handler` is the Lambda entry point; the rest loads where it is used."""

from sesflow.notices.outbound.lambda_handler import handler

__all__ = ["handler"]
