"""Two containers resumed from one SnapStart snapshot, played by `os.fork` in a fresh single-threaded process.

Run as a script by tests/test_snapstart.py: `snapshot.py plain|renew`, with the outbound handler's settings in
the environment. The outbound handler is primed (`snapstart.before_snapshot`) and the process forks twice;
each child answers, as one JSON line per child, what it would make that must be its own, and (with `renew`,
after `snapstart.after_restore`) whether its settings, wiring and NetBox pool are new. Python reseeds
`random` in a forked child by itself, which a restore does not: each child first puts back the state the
parent had, as the snapshot holds it.
"""

from __future__ import annotations

import json
import os
import random
import sys
from email.utils import make_msgid
from typing import Any

from sesflow import snapstart
from sesflow.aws.clients import default_clients
from sesflow.aws.ses import _backoff
from sesflow.notices.outbound import lambda_handler as outbound
from sesflow.notices.outbound.delivery import OutboundDeps

OUTBOUND = "sesflow.notices.outbound"
CONTAINERS = 2


def draws() -> dict[str, Any]:
    """What a container makes that must be its own: random draws, send jitter, a Message-ID."""
    return {
        "bits": random.getrandbits(64),
        "jitter": _backoff(4),
        "message_id": make_msgid(domain="example.com"),
    }


def container(renew: bool, primed: OutboundDeps) -> dict[str, Any]:
    if not renew:
        return draws()
    snapstart.after_restore(OUTBOUND)
    deps = outbound.default_deps()
    return {
        **draws(),
        "new_deps": deps is not primed,
        "new_settings": deps.settings is not primed.settings,
        "new_pool": deps.notices.client._pool is not primed.notices.client._pool,
        "new_sender": deps.sender is not primed.sender,
        "same_dynamodb_client": default_clients().dynamodb is primed.claims.dynamodb,
    }


def main() -> None:
    renew = sys.argv[1] == "renew"
    snapstart.before_snapshot(OUTBOUND)
    primed = outbound.default_deps()
    snapshot = random.getstate()
    answers = []
    for _ in range(CONTAINERS):
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # the child: answer and leave at once, whatever happens
            code = 0
            try:
                os.close(read)
                random.setstate(snapshot)  # undo the fork's own reseed: a restore has none
                os.write(write, json.dumps(container(renew, primed)).encode())
            except BaseException:  # noqa: BLE001 - the child must reach os._exit, whatever it raised
                code = 1
            finally:
                os._exit(code)
        os.close(write)
        with os.fdopen(read, "rb") as answer:
            data = answer.read()
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"a container failed: {status}")
        answers.append(json.loads(data))
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
