"""The one error the managed NetBox raises, and the log excerpts it carries."""

from __future__ import annotations

from pathlib import Path


class NetBoxServiceError(RuntimeError):
    """NetBox or one of its servers could not be installed, started or stopped; the message says why."""


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log, for error messages."""
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace")
    return f"--- last lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])
