"""The step runner: steps in order, the first outcome ends the run, hooks see every step and milestone."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from sesflow import faults
from sesflow.pipeline import Pipeline, StepTimes, StopAfter, StopRun, extra_hooks, reached

pytestmark = pytest.mark.unit


@dataclass
class Mail:
    seen: list[str] = field(default_factory=list)


@dataclass
class Deps:
    stop_at: str | None = None


def load(mail: Mail, deps: Deps) -> str | None:
    mail.seen.append("load")
    return "stopped at load" if deps.stop_at == "load" else None


def send(mail: Mail, deps: Deps) -> str | None:
    mail.seen.append("send")
    reached("accepted")
    mail.seen.append("recorded")
    return "stopped at send" if deps.stop_at == "send" else None


def report(mail: Mail, deps: Deps) -> str | None:
    mail.seen.append("report")
    return None


PIPELINE: Pipeline[Mail, Deps, str] = Pipeline("test", (load, send, report))


@dataclass
class Recorder:
    calls: list[str] = field(default_factory=list)

    def before(self, flow: str, step: str, context: object) -> None:
        self.calls.append(f"before {flow}.{step}")

    def after(self, flow: str, step: str, context: object) -> None:
        self.calls.append(f"after {flow}.{step}")


def test_the_first_step_with_an_outcome_ends_the_run() -> None:
    mail = Mail()
    assert PIPELINE.run(mail, Deps(stop_at="send")) == "stopped at send"
    assert mail.seen == ["load", "send", "recorded"]


def test_a_run_whose_steps_all_go_on_has_no_outcome() -> None:
    mail = Mail()
    assert PIPELINE.run(mail, Deps()) is None
    assert mail.seen == ["load", "send", "recorded", "report"]


def test_hooks_see_each_step_and_the_milestones_inside_it_in_order() -> None:
    recorder = Recorder()
    PIPELINE.run(Mail(), Deps(), hooks=[recorder])
    assert recorder.calls == [
        "before test.load",
        "after test.load",
        "before test.send",
        "before test.accepted",
        "after test.accepted",
        "after test.send",
        "before test.report",
        "after test.report",
    ]


def test_a_milestone_outside_a_run_reaches_no_hook() -> None:
    recorder = Recorder()
    with extra_hooks(recorder):
        send(Mail(), Deps())
    assert recorder.calls == []


def test_stop_after_a_milestone_stops_inside_the_step_and_is_not_an_exception() -> None:
    mail = Mail()
    with pytest.raises(StopRun):
        PIPELINE.run(mail, Deps(), hooks=[StopAfter("accepted")])
    assert mail.seen == ["load", "send"]
    assert not issubclass(StopRun, Exception)


def test_kill_points_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.KILL_AT, "test.accepted")
    faults.reset()
    try:
        mail = Mail()
        with pytest.raises(faults.Killed, match=r"test\.accepted"):
            PIPELINE.run(mail, Deps())
        assert mail.seen == ["load", "send"]
    finally:
        monkeypatch.delenv(faults.KILL_AT)
        faults.reset()


def test_halves_of_a_pipeline_run_apart() -> None:
    assert PIPELINE.through("send").names == ("load", "send")
    assert PIPELINE.after("send").names == ("report",)
    with pytest.raises(ValueError, match="no step 'mark'"):
        PIPELINE.through("mark")


def test_extra_hooks_reach_runs_in_other_threads_and_go_away_after() -> None:
    times = StepTimes()
    with extra_hooks(times):
        worker = threading.Thread(target=PIPELINE.run, args=(Mail(), Deps()))
        worker.start()
        worker.join()
    assert set(times.seconds) == {"load", "send", "accepted", "report"}
    PIPELINE.run(Mail(), Deps())
    assert set(times.seconds) == {"load", "send", "accepted", "report"}
    assert all(seconds >= 0 for seconds in times.seconds.values())


def test_each_run_in_its_own_thread_has_its_own_hooks() -> None:
    first, second = Recorder(), Recorder()
    threads = [
        threading.Thread(target=PIPELINE.run, args=(Mail(), Deps()), kwargs={"hooks": [hook]})
        for hook in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert first.calls == second.calls
    assert len(first.calls) == 8
