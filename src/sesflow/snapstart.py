"""Lambda SnapStart for every handler: priming before the snapshot, renewal after each restore.

With SnapStart on, Lambda initialises a published version once, snapshots the execution environment, and
resumes every new container of that version from the snapshot. Each handler module registers two hooks here
when it is imported (Lambda runs only hooks registered while the handler's module is imported):

- **prime** (before the snapshot): what every container would otherwise do on its first event — import what
  the event path loads lazily, read the settings, build the clients and the wiring, and run the code paths
  whose caches are worth keeping (the parser's providers, css_inline, email-validator). Nothing unique to
  one container is made here; no AWS or NetBox request is sent.
- **renew** (after a restore): re-create what two containers resumed from one snapshot must not share —
  the `random` module's state (the send jitter and `email.utils.make_msgid` draw from it), the settings and
  with them any secret read from Secrets Manager (its lifetime starts again), the wiring built from them
  (NetBox's connection pool, the send-rate limiter and its clock, the link signer's credentials), and the
  AWS clients' connections (the clients themselves, with their loaded service models, are kept).

Lambda's Python runtime has `snapshot_restore_py`; wherever it is absent (tests, the local stack) the hooks
are only kept here, and `before_snapshot()` / `after_restore()` run them the same way.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sesflow.aws.clients import default_clients

type Hook = Callable[[], None]

#: The hooks this module registers for every process, under their own name.
PROCESS = __name__


class Cached[T](Protocol):
    """A `functools.cache`d function without arguments: the settings and wiring of a handler."""

    def __call__(self) -> T: ...

    def cache_clear(self) -> None: ...


@dataclass
class Registry:
    """Hooks by the module that registered them, in registration order."""

    prime: dict[str, list[Hook]] = field(default_factory=dict)
    renew: dict[str, list[Hook]] = field(default_factory=dict)

    def add(self, owner: str, prime: Hook | None, renew: Hook | None) -> bool:
        """False when the owner registered before (a module imported again must not run its hooks twice)."""
        if owner in self.prime or owner in self.renew:
            return False
        self.prime[owner] = [prime] if prime is not None else []
        self.renew[owner] = [renew] if renew is not None else []
        return True


#: Every hook registered in this process; the local stack and the tests run them from here.
LOCAL = Registry()


def register(owner: str, *, prime: Hook | None = None, renew: Hook | None = None) -> None:
    """Register `owner`'s hooks here and, inside Lambda, with the runtime."""
    if not LOCAL.add(owner, prime, renew):
        return
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found, unused-ignore]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:  # not in Lambda's Python runtime
        return
    if prime is not None:
        register_before_snapshot(prime)
    if renew is not None:
        register_after_restore(renew)


def before_snapshot(*owners: str) -> None:
    """The priming hooks of the given modules (all when none is named), as Lambda runs them: the reverse of
    the order they were registered in."""
    for owner in reversed(_chosen(owners)):
        for hook in reversed(LOCAL.prime.get(owner, [])):
            hook()


def after_restore(*owners: str) -> None:
    """The renewal hooks: this process's own first, then the given modules' (all when none is named), in
    the order they were registered in, as Lambda runs them."""
    chosen = _chosen(owners)
    for owner in [PROCESS, *(owner for owner in chosen if owner != PROCESS)]:
        for hook in LOCAL.renew.get(owner, []):
            hook()


def _chosen(owners: tuple[str, ...]) -> list[str]:
    return list(owners) if owners else list(LOCAL.prime)


def register_handler(
    owner: str,
    *,
    settings: Cached[object],
    deps: Cached[object],
    warm: Hook | None = None,
    wire: Hook | None = None,
) -> None:
    """The hooks of one handler module: `settings` and `deps` are its cached settings reader and wiring,
    `warm` the code paths its events take that are worth running once before the snapshot, `wire` what
    priming wires instead of `deps` when that would read a secret (a secret stays out of the snapshot)."""

    def prime() -> None:
        (wire or deps)()
        if warm is not None:
            warm()

    def renew() -> None:
        settings.cache_clear()
        deps.cache_clear()
        default_clients().close_connections()
        deps()

    register(owner, prime=prime, renew=renew)


def reseed() -> None:
    """New entropy for `random` (from os.urandom): two containers restored from one snapshot would otherwise
    draw the same jitter and the same Message-ID random part."""
    random.seed()


def forget_cached_secrets() -> None:
    """Powertools' parameter cache (the relay's signing key) keeps what was read before the snapshot."""
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()


def _renew_process() -> None:
    reseed()
    forget_cached_secrets()


register(PROCESS, renew=_renew_process)
