"""The overlap rule (overlaps.py) on its own, and the `warn_overlaps` step in the inbound flow over the fakes:
two maintenances down at once at a common site are warned about on both, once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sesflow.local.netbox.seed import ProviderSeed, SeedData
from sesflow.notices.inbound.overlaps import (
    Overlap,
    OverlapWarning,
    Site,
    Window,
    overlap_of,
    overlapping_pairs,
    overlaps_with,
    unwritten,
    warning_text,
    warnings_for,
)

from .builders import FakeInbox
from .mails import bcop_notice

pytestmark = pytest.mark.unit

ONE, TWO = Site(1, "Site One"), Site(2, "Site Two")


def _at(hour: int) -> datetime:
    return datetime(2031, 3, 1, tzinfo=UTC).replace(hour=hour)


def _window(
    number: int, start: int, end: int, status: str = "CONFIRMED", replaces: int | None = None
) -> Window:
    return Window(
        number, f"M{number}", "Alpha" if number % 2 else "Beta", _at(start), _at(end), status, replaces
    )


def test_windows_that_intersect_at_a_common_site_overlap() -> None:
    first, second = _window(1, 0, 4), _window(2, 3, 6)
    assert overlap_of(first, second, {1: frozenset({ONE, TWO}), 2: frozenset({TWO})}) == Overlap(
        first, second, (TWO,)
    )


@pytest.mark.parametrize(
    ("second", "reach"),
    [
        pytest.param(_window(2, 4, 6), {1: {ONE}, 2: {ONE}}, id="one-ends-as-the-other-starts"),
        pytest.param(_window(2, 0, 4), {1: {ONE}, 2: {TWO}}, id="different-sites"),
        pytest.param(_window(2, 0, 4), {1: {ONE}}, id="no-site-reached"),
        pytest.param(_window(2, 0, 4, "CANCELLED"), {1: {ONE}, 2: {ONE}}, id="cancelled"),
        pytest.param(_window(2, 0, 4, "COMPLETED"), {1: {ONE}, 2: {ONE}}, id="completed"),
        pytest.param(_window(2, 0, 4, "RE-SCHEDULED"), {1: {ONE}, 2: {ONE}}, id="retired"),
        pytest.param(_window(2, 0, 4, replaces=1), {1: {ONE}, 2: {ONE}}, id="its-replacement"),
        pytest.param(_window(1, 0, 4), {1: {ONE}}, id="itself"),
    ],
)
def test_no_overlap(second: Window, reach: dict[int, set[Site]]) -> None:
    first = _window(1, 0, 4)
    assert overlap_of(first, second, {key: frozenset(sites) for key, sites in reach.items()}) is None


def test_one_providers_two_windows_into_one_site_overlap_too() -> None:
    first, second = _window(1, 0, 4), _window(3, 2, 6)
    assert first.provider == second.provider
    assert overlap_of(first, second, {1: frozenset({ONE}), 3: frozenset({ONE})}) is not None


def test_each_pair_is_found_once_whichever_side_it_is_seen_from() -> None:
    windows = [_window(1, 0, 4), _window(2, 1, 5), _window(3, 2, 6), _window(4, 10, 12)]
    reach = {number: frozenset({ONE}) for number in range(1, 5)}
    pairs = overlapping_pairs(windows, reach)
    assert [(p.first.id, p.second.id) for p in pairs] == [(1, 2), (1, 3), (2, 3)]
    seen = overlaps_with(windows[:2], windows, reach)
    assert sorted((p.first.id, p.second.id) for p in seen) == [(1, 2), (1, 3), (2, 3)]


def test_a_warning_goes_on_both_and_names_the_other_its_window_and_the_site() -> None:
    first, second = _window(1, 0, 4), _window(2, 3, 6)
    warnings = warnings_for([Overlap(first, second, (ONE,))])
    assert warnings == [
        OverlapWarning(1, warning_text(second, (ONE,))),
        OverlapWarning(2, warning_text(first, (ONE,))),
    ]
    assert warnings[0].text == (
        "Overlapping maintenance: M2 (Beta, maintenance #2, 2031-03-01 03:00 UTC to 2031-03-01 06:00 UTC) "
        "is down at the same time at Site One."
    )


def test_a_warning_already_journaled_is_not_written_again() -> None:
    warnings = [OverlapWarning(1, "a"), OverlapWarning(2, "b"), OverlapWarning(2, "b")]
    assert unwritten(warnings, {1: ["a"], 2: ["a"]}) == [OverlapWarning(2, "b")]


# the step in the flow, over the fakes

SEED = SeedData(providers=(ProviderSeed("Alpha", "alpha", ("A-1",)), ProviderSeed("Beta", "beta", ("B-1",))))


def _inbox_into(sites: tuple[str, str]) -> FakeInbox:
    """Alpha's A-1 and Beta's B-1 terminating at the named sites."""
    inbox = FakeInbox()
    seeded = inbox.notices.seed(SEED)
    by_name = {name: inbox.notices.add_site(name) for name in sorted(set(sites))}
    for key, site in zip((("alpha", "A-1"), ("beta", "B-1")), sites, strict=True):
        inbox.notices.terminate(seeded.circuits[key], "dcim.site", by_name[site])
    return inbox


def _warnings(inbox: FakeInbox) -> dict[str, list[str]]:
    names = {row["id"]: row["name"] for row in inbox.notices.maintenances.values()}
    found: dict[str, list[str]] = {name: [] for name in names.values()}
    for row in inbox.notices.journal.values():
        if row["comments"].startswith("Overlapping maintenance:"):
            found[names[row["assigned_object_id"]]].append(row["comments"])
    return found


def test_two_providers_down_at_once_at_one_site_are_warned_on_both_once() -> None:
    inbox = _inbox_into(("Site One", "Site One"))
    assert (
        inbox.deliver(bcop_notice("A-WORK", ["A-1"], provider="alpha"), source="noc@noc.example.org").result
        == "applied"
    )
    outcome = inbox.deliver(bcop_notice("B-WORK", ["B-1"], provider="beta"), source="noc@noc.example.org")
    assert outcome.result == "applied"
    assert "overlaps" in outcome.applied[0].changed
    warnings = _warnings(inbox)
    assert [len(warnings["A-WORK"]), len(warnings["B-WORK"])] == [1, 1]
    assert "B-WORK (Beta, maintenance #" in warnings["A-WORK"][0] and "Site One" in warnings["A-WORK"][0]
    inbox.counter -= 1  # the same delivery again: a replay writes nothing
    assert (
        inbox.deliver(bcop_notice("B-WORK", ["B-1"], provider="beta"), source="noc@noc.example.org").result
        == "applied"
    )
    assert _warnings(inbox) == warnings


@pytest.mark.parametrize(
    ("sites", "day"), [(("Site One", "Site Two"), 1), (("Site One", "Site One"), 8)], ids=["sites", "windows"]
)
def test_no_warning_for_other_sites_or_other_windows(sites: tuple[str, str], day: int) -> None:
    inbox = _inbox_into(sites)
    inbox.deliver(bcop_notice("A-WORK", ["A-1"], provider="alpha"), source="noc@noc.example.org")
    outcome = inbox.deliver(
        bcop_notice("B-WORK", ["B-1"], provider="beta", day=day), source="noc@noc.example.org"
    )
    assert outcome.result == "applied" and "overlaps" not in outcome.applied[0].changed
    assert _warnings(inbox) == {"A-WORK": [], "B-WORK": []}


def test_a_reschedule_into_the_other_window_warns_and_the_retired_window_does_not() -> None:
    inbox = _inbox_into(("Site One", "Site One"))
    inbox.deliver(bcop_notice("A-WORK", ["A-1"], provider="alpha", day=8), source="noc@noc.example.org")
    inbox.deliver(bcop_notice("B-WORK", ["B-1"], provider="beta"), source="noc@noc.example.org")
    assert _warnings(inbox) == {"A-WORK": [], "B-WORK": []}
    moved = bcop_notice("B-WORK", ["B-1"], provider="beta", sequence=2, day=8)
    assert "overlaps" in inbox.deliver(moved, source="noc@noc.example.org").applied[0].changed
    warned = {name: len(texts) for name, texts in _warnings(inbox).items()}
    assert warned == {"A-WORK": 1, "B-WORK": 1}  # the new B-WORK (the old one holds no warning)
    retired, current = sorted(
        (row for row in inbox.notices.maintenances.values() if row["name"] == "B-WORK"),
        key=lambda row: row["id"],
    )
    assert (retired["status"], current["status"]) == ("RE-SCHEDULED", "CONFIRMED")
    assert not [row for row in inbox.notices.journal.values() if row["assigned_object_id"] == retired["id"]]
