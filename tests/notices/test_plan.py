"""Planning against what NetBox holds: identity of windows, order of notices, the action chosen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sesflow.notices.inbound.parser import CircuitImpact, ParsedMaintenance
from sesflow.notices.inbound.plan import (
    Action,
    Existing,
    LateLinks,
    MaintenancePlan,
    NameInNetBox,
    current_of,
    plan_maintenance,
    window_names,
    with_marker,
)

pytestmark = pytest.mark.unit

START = datetime(2031, 3, 1, 22, 0, tzinfo=UTC)
STAMP = datetime(2031, 2, 1, tzinfo=UTC)


def _parsed(
    maintenance_id: str = "M-1", *, start: datetime = START, status: str = "CONFIRMED", sequence: int = 1
) -> ParsedMaintenance:
    return ParsedMaintenance(
        provider="zayo",
        maintenance_id=maintenance_id,
        status=status,
        start=start,
        end=start + timedelta(hours=4),
        stamp=STAMP,
        sequence=sequence,
        summary="Fiber splice",
        account="acct",
        circuits=(
            CircuitImpact("C1", "NO-IMPACT"),
            CircuitImpact("C1", "OUTAGE"),
            CircuitImpact("C9", "OUTAGE"),
        ),
    )


def _existing(parsed: ParsedMaintenance, status: str = "CONFIRMED", marker: bool = True) -> Existing:
    return Existing(
        7, status, parsed.start, parsed.end, parsed.summary, with_marker("", parsed) if marker else ""
    )


def _plan(parsed: ParsedMaintenance, existing: Existing | None, **kwargs: bool) -> Action:
    return plan_maintenance(
        parsed,
        "M-1",
        NameInNetBox(
            provider_slug="zayo",
            provider_id=3,
            existing=existing,
            circuits={"C1": 11},
            known=[existing] if existing else [],
            **kwargs,
        ),
    ).action


def test_windows_sharing_an_id_get_numbered_names_in_start_order() -> None:
    late, early = _parsed(start=START + timedelta(days=1)), _parsed()
    assert window_names([late, early, _parsed("M-2")]) == ["M-1 [2/2]", "M-1 [1/2]", "M-2"]


def test_names_fit_the_plugins_limit() -> None:
    names = window_names([_parsed("X" * 150), _parsed("X" * 150, start=START + timedelta(days=1))])
    assert all(len(name) == 100 for name in names)
    assert names[0] != names[1]


def test_impacts_keep_one_per_known_circuit_with_the_most_severe_level_and_list_unknown_ones() -> None:
    plan = plan_maintenance(
        _parsed(),
        "M-1",
        NameInNetBox(provider_slug="zayo", provider_id=3, existing=None, circuits={"C1": 11}),
    )
    assert [(i.cid, i.circuit_id, i.impact) for i in plan.impacts] == [("C1", 11, "OUTAGE")]
    assert plan.unknown_circuits == ("C9",)


def test_actions() -> None:
    parsed = _parsed()
    assert _plan(parsed, None) is Action.CREATE
    assert _plan(parsed, _existing(parsed)) is Action.UNCHANGED
    assert _plan(parsed, _existing(parsed), mail_stored=True) is Action.ALREADY_APPLIED
    newer = replace(parsed, stamp=STAMP + timedelta(days=1), summary="new text")
    assert _plan(newer, _existing(parsed)) is Action.UPDATE
    moved = replace(newer, start=START + timedelta(days=2), end=START + timedelta(days=2, hours=1))
    assert _plan(moved, _existing(parsed)) is Action.RESCHEDULE
    assert _plan(replace(moved, status="CANCELLED"), _existing(parsed)) is Action.RESCHEDULE
    assert _plan(replace(newer, status="CANCELLED"), _existing(parsed)) is Action.UPDATE
    assert _plan(moved, _existing(parsed, status="COMPLETED")) is Action.CREATE


def test_an_older_notice_is_stale() -> None:
    parsed = _parsed(sequence=2)
    assert (
        _plan(replace(parsed, sequence=1, stamp=STAMP + timedelta(days=9)), _existing(parsed)) is Action.STALE
    )
    assert _plan(replace(parsed, stamp=STAMP - timedelta(days=1)), _existing(parsed)) is Action.STALE


def test_a_notice_with_no_netbox_provider_is_planned_as_such() -> None:
    plan = plan_maintenance(
        _parsed(), "M-1", NameInNetBox(provider_slug="zayo", provider_id=None, existing=None, circuits={})
    )
    assert plan.action is Action.NO_PROVIDER


@pytest.mark.parametrize(("parsed", "netbox"), [("RE-SCHEDULED", "CONFIRMED"), ("NO-CHANGE", "IN-PROCESS")])
def test_parser_statuses_without_a_plugin_meaning_are_mapped(parsed: str, netbox: str) -> None:
    notice = _parsed(status=parsed)
    plan = plan_maintenance(
        notice,
        "M-1",
        NameInNetBox(
            provider_slug="zayo", provider_id=3, existing=_existing(notice, "IN-PROCESS"), circuits={}
        ),
    )
    assert plan.status == netbox


def _chain_plan(parsed: ParsedMaintenance, known: list[Existing]) -> MaintenancePlan:
    """The plan for `parsed` against every maintenance of its name, the current one chosen as inbound does."""
    return plan_maintenance(
        parsed,
        "M-1",
        NameInNetBox(
            provider_slug="zayo", provider_id=3, existing=current_of(known), circuits={}, known=known
        ),
    )


def test_an_older_notice_for_a_window_never_seen_is_filed_as_history() -> None:
    current = _parsed(start=START + timedelta(days=7), sequence=3)
    plan = _chain_plan(_parsed(sequence=1), [_existing(current)])
    assert (plan.action, plan.status, plan.existing_id) == (Action.HISTORY, "RE-SCHEDULED", 7)


FIRST, SECOND, THIRD = (_parsed(start=START + timedelta(days=7 * n), sequence=n + 1) for n in range(3))


def test_a_window_filed_late_goes_between_its_neighbours_in_the_chain() -> None:
    first = replace(_existing(FIRST, "RE-SCHEDULED"), id=1)
    third = replace(_existing(THIRD), id=3, replaces=1)  # came before the second, so it replaced the first
    plan = _chain_plan(SECOND, [first, third])
    assert (plan.action, plan.status, plan.existing_id) == (Action.HISTORY, "RE-SCHEDULED", 3)
    assert plan.late_links == LateLinks(3, 1, successor_replaces_late=True, replaces=1)


def test_a_closed_window_filed_late_leaves_its_successor_replacing_nothing() -> None:
    first = replace(_existing(FIRST, "RE-SCHEDULED"), id=1)
    third = replace(_existing(THIRD, "CANCELLED"), id=3, replaces=1)
    plan = _chain_plan(replace(SECOND, status="COMPLETED"), [first, third])
    assert (plan.action, plan.status) == (Action.HISTORY, "COMPLETED")
    assert plan.late_links == LateLinks(3, 1, successor_replaces_late=False, replaces=1)


def test_a_late_window_left_unlinked_by_a_killed_run_is_linked_by_the_retry() -> None:
    first = replace(_existing(FIRST, "RE-SCHEDULED"), id=1)
    third = replace(_existing(THIRD), id=3, replaces=1)
    second = replace(_existing(SECOND, "RE-SCHEDULED"), id=2, replaces=1)  # created, then the run died
    plan = _chain_plan(SECOND, [first, second, third])
    assert (plan.action, plan.existing_id) == (Action.UPDATE, 2)
    assert plan.late_links == LateLinks(3, 1, successor_replaces_late=True, replaces=1)
    linked = replace(third, replaces=2)
    assert _chain_plan(SECOND, [first, second, linked]).late_links is None


def test_the_current_maintenance_is_the_one_holding_the_newest_notice() -> None:
    newest = replace(_existing(_parsed(sequence=3)), id=1)
    history = replace(_existing(_parsed(sequence=1)), id=2)
    unmarked = replace(_existing(_parsed(), marker=False), id=3)
    assert current_of([newest, history, unmarked]) == newest
    assert current_of([]) is None


def test_comments_written_by_people_are_kept_beside_the_marker() -> None:
    parsed = _parsed()
    existing = replace(_existing(parsed), comments="Ticket 42 opened\n" + with_marker("", parsed))
    plan = plan_maintenance(
        parsed,
        "M-1",
        NameInNetBox(provider_slug="zayo", provider_id=3, existing=existing, circuits={}, known=[existing]),
    )
    assert plan.action is Action.UNCHANGED
    assert plan.comments == existing.comments


# Two notices of one maintenance with the same sequence and stamp (crowncastle7 completes the 2 December
# window, crowncastle1 announces 3 January; both mails carry the same Date): ordered by their windows, so
# either arrival order plans the same end: the completed window, and the next one as a new occurrence.
COMPLETED_WINDOW = _parsed(status="COMPLETED")
NEXT_WINDOW = _parsed(start=START + timedelta(days=31))


def test_notices_with_one_sequence_and_stamp_are_ordered_by_their_window() -> None:
    completed = replace(_existing(COMPLETED_WINDOW, "COMPLETED"), id=1)
    assert _chain_plan(NEXT_WINDOW, [completed]).action is Action.CREATE  # after a closed event

    following = replace(_existing(NEXT_WINDOW), id=2)
    plan = _chain_plan(COMPLETED_WINDOW, [following])
    # Earlier by its window: filed as the closed window it was, the newer one left as it is.
    assert (plan.action, plan.status, plan.existing_id, plan.late_links) == (
        Action.HISTORY,
        "COMPLETED",
        2,
        None,
    )
    assert current_of([completed, following]) == following


def test_a_later_window_with_the_same_sequence_and_stamp_is_not_stale() -> None:
    earlier = replace(_existing(_parsed()), id=1)
    later = _parsed(start=START + timedelta(days=1))
    assert _chain_plan(later, [earlier]).action is Action.RESCHEDULE
    assert _chain_plan(_parsed(), [replace(_existing(later), id=2)]).action is Action.HISTORY


def test_a_closing_window_left_open_by_a_killed_run_is_closed_and_unretired_by_the_retry() -> None:
    # crowncastle7's run created the completed window open (impacts come before closing) and died; the next
    # notice then found it open and retired it. Its retry closes it and takes the link away again.
    left_open = replace(_existing(COMPLETED_WINDOW, "RE-SCHEDULED"), id=1)
    following = replace(_existing(NEXT_WINDOW), id=2, replaces=1)
    plan = _chain_plan(COMPLETED_WINDOW, [left_open, following])
    assert (plan.action, plan.status, plan.existing_id) == (Action.UPDATE, "COMPLETED", 1)
    assert plan.late_links == LateLinks(2, 1, successor_replaces_late=False)
    # A window retired as its notice says keeps the successor's link.
    retired = replace(_existing(_parsed(), "RE-SCHEDULED"), id=1)
    assert _chain_plan(_parsed(), [retired, following]).late_links is None


# kept true: impacts a newer notice no longer lists, loose circuit matches, the acknowledgement


def _full_plan(parsed: ParsedMaintenance, known: list[Existing], **kwargs: object) -> MaintenancePlan:
    existing = current_of(known)
    netbox = NameInNetBox("zayo", 3, {"C1": 11}, existing=existing, known=known)
    return plan_maintenance(parsed, "M-1", replace(netbox, **kwargs))


def test_only_a_newer_notice_that_lists_circuits_prunes_impacts() -> None:
    applied = _parsed(sequence=2)
    assert _full_plan(replace(applied, sequence=3), [_existing(applied)]).prunes_impacts
    # A notice of the same standing (one per circuit in the same second, as seaborn sends) adds up; a retry
    # of the notice that pruned did so before its marker was written, so it finds the older marker.
    assert not _full_plan(applied, [_existing(applied)]).prunes_impacts
    older = _full_plan(replace(applied, sequence=1), [_existing(applied)])
    assert (older.action, older.prunes_impacts) == (Action.STALE, False)
    silent = replace(applied, sequence=3, status="CANCELLED", circuits=())
    assert not _full_plan(silent, [_existing(applied)]).prunes_impacts  # it says nothing of circuits
    assert not _full_plan(applied, []).prunes_impacts  # a new maintenance has no impacts to prune


def test_a_loose_match_is_an_impact_under_netboxs_spelling_and_one_per_circuit() -> None:
    parsed = replace(_parsed(), circuits=(CircuitImpact("c1", "DEGRADED"), CircuitImpact(" C1 ", "OUTAGE")))
    plan = _full_plan(parsed, [], circuits={"c1": 11, " C1 ": 11}, spellings={"c1": "C1", " C1 ": "C1"})
    assert [(i.cid, i.circuit_id, i.impact) for i in plan.impacts] == [("C1", 11, "OUTAGE")]
    assert plan.respelled == (("c1", "C1"), (" C1 ", "C1"))
    assert plan.unknown_circuits == ()
    assert plan.notes == (
        "Circuit IDs in the notice matched to NetBox's spelling (case, spaces): 'c1' is 'C1', ' C1 ' is 'C1'",
    )


def test_the_acknowledgement_is_cleared_by_a_newer_status_only() -> None:
    applied = _parsed(status="TENTATIVE")
    acknowledged = replace(_existing(applied, status="TENTATIVE"), acknowledged=True)
    confirmed = _full_plan(replace(applied, sequence=2, status="CONFIRMED"), [acknowledged])
    assert (confirmed.action, confirmed.clears_acknowledgement) == (Action.UPDATE, True)
    assert confirmed.notes == (
        f"Acknowledgement cleared: the notice of {STAMP.isoformat()} changed the status "
        "from TENTATIVE to CONFIRMED",
    )
    assert not _full_plan(replace(applied, sequence=2), [acknowledged]).clears_acknowledgement
    older = _full_plan(replace(applied, sequence=0, status="CONFIRMED"), [acknowledged])
    assert (older.clears_acknowledgement, older.notes) == (False, ())
    unacknowledged = _full_plan(
        replace(applied, sequence=2, status="CONFIRMED"), [_existing(applied, "TENTATIVE")]
    )
    assert not unacknowledged.clears_acknowledgement


def test_a_moved_acknowledged_window_is_noted_also_when_its_retry_finds_the_new_one() -> None:
    applied = _parsed()
    old = replace(_existing(applied), acknowledged=True)
    moved = replace(
        applied, sequence=2, start=START + timedelta(days=7), end=START + timedelta(days=7, hours=4)
    )
    first = _full_plan(moved, [old])
    assert first.action is Action.RESCHEDULE
    [note] = first.notes
    assert note.startswith(
        f"Acknowledgement cleared: the notice of {STAMP.isoformat()} moved the window from ("
    )
    assert note.endswith(f"the acknowledged maintenance {old.id} is retired")
    created = replace(_existing(moved), id=8, replaces=old.id)
    retried = _full_plan(moved, [replace(old, status="RE-SCHEDULED"), created])
    assert (retried.action, retried.notes) == (Action.UNCHANGED, (note,))
    later = _full_plan(replace(moved, sequence=3), [replace(old, status="RE-SCHEDULED"), created])
    assert later.notes == ()  # only the notice that moved it says so
