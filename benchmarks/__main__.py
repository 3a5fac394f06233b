"""`python -m benchmarks`: run every benchmark and print its figures."""

from __future__ import annotations

import importlib
import sys
import time

from rich.console import Console
from rich.table import Table

MODULES = ("importtime", "coldstart", "mailparse", "attachments", "relay", "inbound", "outbound")


def main() -> int:
    console = Console()
    wanted = sys.argv[1:] or list(MODULES)
    for name in wanted:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.perf_counter()
        rows = module.run()
        table = Table(title=f"{name}: {module.__doc__.splitlines()[0] if module.__doc__ else ''}")
        table.add_column("measure")
        table.add_column("figure", justify="right")
        for measure, figure in rows:
            table.add_row(measure, figure)
        console.print(table)
        console.print(f"[dim]{name} took {time.perf_counter() - started:.1f}s[/dim]\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
