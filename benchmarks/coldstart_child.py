"""One cold start, in a fresh interpreter: import a handler's module, wire it, handle one event; print JSON.

Run by `benchmarks/coldstart.py` as a script (not a module of the package), so that `PYTHONPATH` alone says
which sesflow it measures. argv: the flow (`<flow>+snapstart`: primed, then restored), the event file (JSON).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

#: flow → the handler's module (the templates' contract paths end in `.handler`)
MODULES = {
    "relay": "sesflow.relay.distribute",
    "inbound": "sesflow.notices.inbound",
    "outbound": "sesflow.notices.outbound",
    "tracking": "sesflow.notices.tracking",
}


#: CPU seconds the import took (process time, which another process's load disturbs far less than wall time).
IMPORT_CPU: list[float] = []
#: What the interpreter and this script had used before it.
CPU_AT_START = time.process_time()


class Context:
    """What Powertools reads from Lambda's context object."""

    function_name = "sesflow-coldstart"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sesflow-coldstart"
    aws_request_id = "coldstart-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def baseline(event: dict[str, Any]) -> tuple[float, float, float, str]:
    """A minimal Powertools handler: boto3, one S3 client, one GET."""
    started = time.perf_counter()
    import boto3
    from aws_lambda_powertools import Logger

    imported = time.perf_counter()
    IMPORT_CPU.append(time.process_time() - CPU_AT_START)
    s3 = boto3.client("s3")
    logger = Logger(service="sesflow-coldstart-baseline")
    wired = time.perf_counter()
    body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read()
    logger.info("read", extra={"bytes": len(body)})
    done = time.perf_counter()
    return imported - started, wired - imported, done - wired, f"{len(body)} bytes"


def handler(flow: str, event: dict[str, Any]) -> tuple[float, float, float, str]:
    started = time.perf_counter()
    module = importlib.import_module(MODULES[flow])
    imported = time.perf_counter()
    IMPORT_CPU.append(time.process_time() - CPU_AT_START)
    # Settings, clients and everything the handler builds once per container: the wiring of the module the
    # handler is defined in (a package's `handler` comes from its wiring module).
    importlib.import_module(module.handler.__module__).default_deps()
    wired = time.perf_counter()
    answer = module.handler(event, Context())
    done = time.perf_counter()
    return imported - started, wired - imported, done - wired, json.dumps(answer, default=str)[:200]


def peak_rss_kib() -> int:
    """This interpreter's peak resident set (VmHWM): `getrusage` would report the parent's when it was larger,
    as a fork's maximum survives the exec."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def restored(flow: str, event: dict[str, Any]) -> tuple[float, float, float, str]:
    """The same handler under SnapStart: import and priming happen once, when the version is published, and
    are not part of a cold start; a restored container runs the renewal hooks, then the event. The figures
    are (import + priming, renewal, first event)."""
    from sesflow import snapstart

    module_name = MODULES[flow]
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    snapstart.before_snapshot(module_name)
    primed = time.perf_counter()
    snapstart.after_restore(module_name)
    renewed = time.perf_counter()
    answer = module.handler(event, Context())
    done = time.perf_counter()
    return primed - started, renewed - primed, done - renewed, json.dumps(answer, default=str)[:200]


def main() -> None:
    flow, event_file = sys.argv[1], Path(sys.argv[2])
    event = json.loads(event_file.read_text(encoding="utf-8"))
    if flow.endswith("+snapstart"):
        figures = restored(flow.removesuffix("+snapstart"), event)
    elif flow == "boto3":
        started = time.perf_counter()
        import boto3  # noqa: F401 - the import is what is measured

        figures = (time.perf_counter() - started, 0.0, 0.0, "")
        IMPORT_CPU.append(time.process_time() - CPU_AT_START)
    elif flow == "baseline":
        figures = baseline(event)
    else:
        figures = handler(flow, event)
    imported, wired, first, answer = figures
    peak_kib = peak_rss_kib()
    cpu = IMPORT_CPU[0] if IMPORT_CPU else None
    figures_json = {"import": imported, "import_cpu": cpu, "wiring": wired, "first": first}
    print(json.dumps({**figures_json, "rss_kib": peak_kib, "answer": answer}))


if __name__ == "__main__":
    main()
