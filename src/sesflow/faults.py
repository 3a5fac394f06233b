"""Kill points at named steps of the flows, for fault tests only: never set these variables in a deployment.

The step runner (`sesflow.pipeline`) calls `checkpoint(flow, step)` after each step of a flow and at each
milestone a step announces inside itself. Nothing happens unless the process's environment names that point:

- `SESFLOW_KILL_AT`: comma-separated `flow.step` names (`relay.send,inbound.write_maintenance`); `flow.*`
  names every point of a flow;
- `SESFLOW_KILL_RATE`: the chance (0..1, default 1) that a named checkpoint kills;
- `SESFLOW_KILL_SEED`: the seed of the draws (default 0), so a campaign can be run again as it was.

The named points: relay `load gate recipients store_attachments sign_links compose ses_accepted
chunk_recorded send report`; inbound `gate load pick_provider parse plan write_maintenance write_impacts
final_status store_mail report`; tracking `evidence record apply`; outbound `claim refresh compose
ses_accepted send mark_sent release`.

A kill raises `SystemExit`, as a Lambda container that dies there: the local stack's workers treat it as a
killed worker. The environment is read once per process (the hot paths pay two global reads when unset);
`reset()` forgets it and the counts, so the next checkpoint reads it again.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

KILL_AT = "SESFLOW_KILL_AT"
KILL_RATE = "SESFLOW_KILL_RATE"
KILL_SEED = "SESFLOW_KILL_SEED"


class Killed(SystemExit):
    """A kill at a named step (a SystemExit, so `except Exception` in a flow does not catch it)."""

    def __init__(self, point: str) -> None:
        super().__init__(f"killed at {point}")
        self.point = point


@dataclass
class KillPlan:
    """Which checkpoints may kill, how often, and what has been killed so far."""

    points: frozenset[str]
    rate: float = 1.0
    seed: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    passes: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"{KILL_RATE} must be between 0 and 1, not {self.rate}")
        self._random = random.Random(self.seed)  # noqa: S311 - reproducible draws, not secrets
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> KillPlan | None:
        named = frozenset(p.strip() for p in environ.get(KILL_AT, "").split(",") if p.strip())
        if not named:
            return None
        try:
            rate = float(environ.get(KILL_RATE) or 1.0)
            seed = int(environ.get(KILL_SEED) or 0)
        except ValueError as error:
            raise ValueError(f"{KILL_RATE} / {KILL_SEED}: {error}") from error
        return cls(named, rate, seed)

    def names(self, point: str) -> bool:
        flow = point.partition(".")[0]
        return point in self.points or f"{flow}.*" in self.points

    def decide(self, point: str) -> bool:
        """Whether this pass through `point` kills (drawn under a lock: workers are threads)."""
        if not self.names(point):
            return False
        with self._lock:
            kill = self._random.random() < self.rate
            (self.kills if kill else self.passes)[point] += 1
        return kill


_plan: KillPlan | None = None
_read = False
_reading = threading.Lock()


def current_plan() -> KillPlan | None:
    """The plan from the environment, read on first use."""
    global _plan, _read
    if not _read:
        with _reading:
            if not _read:
                _plan = KillPlan.from_environment(os.environ)
                _read = True
    return _plan


def checkpoint(flow: str, step: str) -> None:
    """Called by a flow after its step `step`; raises `Killed` when the plan says so."""
    if _read and _plan is None:  # the common case: no plan, nothing to do
        return
    plan = current_plan()
    if plan is None:
        return
    point = f"{flow}.{step}"
    if plan.decide(point):
        raise Killed(point)


def kills() -> Counter[str]:
    """How many times each checkpoint killed since the plan was read."""
    plan = current_plan()
    return Counter(plan.kills) if plan is not None else Counter()


def reset() -> None:
    """Forget the plan and its counts; the next checkpoint reads the environment again."""
    global _plan, _read
    with _reading:
        _plan, _read = None, False
