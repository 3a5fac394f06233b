"""The one step runner every flow uses: a pipeline is a flow's name and its steps, declared as data.

    pipeline = Pipeline("relay", (load, gate, find_recipients, store_attachments, ...))
    outcome = pipeline.run(mail, deps)

A step is a plain function `step(context, deps) -> outcome | None`: the context is the mail's or the
notification's state on its way through, `deps` what the flow needs from the outside. A step that decides the
outcome returns it and the run ends there; `None` lets the run go on. The unexpected is raised, untouched.

What every step shares — the fault tests' kill points, a debug line per step, step timings for the
benchmarks — is a hook around the steps, not a call inside them. A step may also announce a *milestone*
inside itself (`reached("ses_accepted")`: SES took the mail, its record is not written yet), which the hooks
see as they see a step's end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from sesflow import faults

type Step[C, D, O] = Callable[[C, D], O | None]


class StepHook(Protocol):
    """Called around each step of a run (and at each milestone a step announces)."""

    def before(self, flow: str, step: str, context: object) -> None: ...

    def after(self, flow: str, step: str, context: object) -> None: ...


class KillPoints:
    """The fault tests' kill points (`sesflow.faults`): after each step and at each milestone. Always on;
    a process whose environment names no kill point pays two global reads per step."""

    def before(self, flow: str, step: str, context: object) -> None:
        pass

    def after(self, flow: str, step: str, context: object) -> None:
        faults.checkpoint(flow, step)


#: The hooks every run has, before the ones its caller adds.
ALWAYS: tuple[StepHook, ...] = (KillPoints(),)


@dataclass(frozen=True)
class _Run:
    flow: str
    context: object
    hooks: tuple[StepHook, ...]


_running: ContextVar[_Run | None] = ContextVar("sesflow_pipeline_run", default=None)


def step_name(step: Callable[..., object]) -> str:
    return getattr(step, "__name__", repr(step))


@dataclass(frozen=True)
class Pipeline[C, D, O]:
    """A flow's steps in order, under the flow's name (the first part of every kill point's name)."""

    flow: str
    steps: tuple[Step[C, D, O], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(step_name(step) for step in self.steps)

    def through(self, last: str) -> Pipeline[C, D, O]:
        """The steps up to and including `last` (for a flow that runs its halves apart, as outbound)."""
        return Pipeline(self.flow, self.steps[: self._index(last) + 1])

    def after(self, last: str) -> Pipeline[C, D, O]:
        """The steps after `last`."""
        return Pipeline(self.flow, self.steps[self._index(last) + 1 :])

    def run(self, context: C, deps: D, *, hooks: Sequence[StepHook] = ()) -> O | None:
        """The steps in order until one returns an outcome; None when they all let the run go on."""
        every = (*ALWAYS, *hooks)
        token = _running.set(_Run(self.flow, context, every))
        try:
            for step in self.steps:
                name = step_name(step)
                for hook in every:
                    hook.before(self.flow, name, context)
                outcome = step(context, deps)
                for hook in every:
                    hook.after(self.flow, name, context)
                if outcome is not None:
                    return outcome
            return None
        finally:
            _running.reset(token)

    def _index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"{self.flow} has no step {name!r}: {', '.join(self.names)}") from None


def reached(milestone: str) -> None:
    """A point inside the running step that the hooks should see (a kill point, say); outside a run (a
    step called on its own by a test or a dry run) nothing happens."""
    run = _running.get()
    if run is None:
        return
    for hook in run.hooks:
        hook.before(run.flow, milestone, run.context)
        hook.after(run.flow, milestone, run.context)


@dataclass
class StepTimes:
    """A hook that adds up the seconds spent in each step (the benchmarks' per-step figures)."""

    seconds: dict[str, float] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)

    def before(self, flow: str, step: str, context: object) -> None:
        self._started[step] = time.perf_counter()

    def after(self, flow: str, step: str, context: object) -> None:
        started = self._started.pop(step, None)
        if started is not None:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - started


@dataclass
class StopAfter:
    """A hook that raises `StopRun` once the named step (or milestone) is done: tests stop a run between
    two steps with it, as a crash would."""

    step: str
    times: int = 1
    seen: int = 0

    def before(self, flow: str, step: str, context: object) -> None:
        pass

    def after(self, flow: str, step: str, context: object) -> None:
        if step == self.step:
            self.seen += 1
            if self.seen >= self.times:
                raise StopRun(f"{flow}.{step}")


class StopRun(BaseException):
    """Raised by `StopAfter`: not an `Exception`, so no flow's error handling mistakes it for a failure."""


@contextmanager
def extra_hooks(*hooks: StepHook) -> Iterator[None]:
    """Every run in this block (any flow, in any thread) also has these hooks — for a
    benchmark or a test that drives a flow through its public entry."""
    global ALWAYS
    before = ALWAYS
    ALWAYS = (*before, *hooks)
    try:
        yield
    finally:
        ALWAYS = before
