"""The NetBox calls the inbound triage makes (`NoticesApi`): a tag and a provider made once, tagged journal
entries found by tag, object, text and time, and changed in place — as the real NetBox answers them and as
`FakeNotices` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sesflow.netbox.errors import NetBoxNotFound, NetBoxValidationError
from sesflow.netbox.notices import NoticesApi

from ..fakes.notices import FakeNotices

TAG, OTHER = "contract-triage", "contract-resolved"


@pytest.fixture(
    params=[
        pytest.param("real", marks=[pytest.mark.netbox, pytest.mark.integration]),
        pytest.param("fake", marks=pytest.mark.unit),
    ]
)
def api(request: pytest.FixtureRequest) -> NoticesApi:
    if request.param == "real":
        return NoticesApi(request.getfixturevalue("nb_client"))
    return FakeNotices()  # type: ignore[return-value]


def _slugs(entry: dict[str, object]) -> set[str]:
    return {tag["slug"] for tag in entry["tags"]}  # type: ignore[attr-defined, index]


def test_a_tag_and_a_provider_are_made_once(api: NoticesApi) -> None:
    api.ensure_tag(TAG, color="ff9800", description="d")
    api.ensure_tag(TAG, color="ff9800", description="d")
    first = api.ensure_provider("contract-unmatched", name="Contract unmatched", description="d")
    assert api.ensure_provider("contract-unmatched", name="Contract unmatched", description="d") == first


def test_a_tag_netbox_does_not_have_is_refused_by_name(api: NoticesApi) -> None:
    with pytest.raises(NetBoxValidationError) as refused:
        api.find_journal_entries(tag="no-such-tag")
    assert "tag" in refused.value.body


def test_tagged_entries_are_found_by_tag_object_text_and_time(api: NoticesApi) -> None:
    api.ensure_tag(TAG, color="ff9800", description="d")
    provider = api.ensure_provider("contract-unmatched", name="Contract unmatched", description="d")
    first = api.add_tagged_journal_entry(
        "circuits.provider", provider, "mail `s3://b/in/ses-1`", kind="warning", tags=[TAG]
    )
    api.add_tagged_journal_entry(
        "circuits.provider", provider, "mail `s3://b/in/ses-2`", kind="warning", tags=[TAG]
    )
    assert first["kind"]["value"] == "warning" and _slugs(first) == {TAG}
    assert (first["assigned_object_type"], first["assigned_object_id"]) == ("circuits.provider", provider)
    assert first["assigned_object"]["display"] == "Contract unmatched"
    assert [e["id"] for e in api.find_journal_entries(tag=TAG, search="S3://B/IN/SES-1")] == [first["id"]]
    assert len(api.find_journal_entries(tag=TAG)) == 2
    assert (
        len(api.find_journal_entries(object_type="circuits.provider", object_id=provider, search="ses-")) == 2
    )
    assert api.find_journal_entries(tag=TAG, created_after=datetime.now(UTC) + timedelta(days=1)) == []
    assert len(api.find_journal_entries(tag=TAG, created_after=datetime.now(UTC) - timedelta(days=1))) == 2


def test_an_entry_changes_kind_text_and_tags_in_place(api: NoticesApi) -> None:
    api.ensure_tag(TAG, color="ff9800", description="d")
    api.ensure_tag(OTHER, color="4caf50", description="d")
    provider = api.ensure_provider("contract-unmatched", name="Contract unmatched", description="d")
    entry = api.add_tagged_journal_entry("circuits.provider", provider, "waits", kind="warning", tags=[TAG])
    changed = api.update_journal_entry(
        entry["id"], {"kind": "success", "comments": "waits\n\ndone"}, tags=[OTHER]
    )
    assert (changed["kind"]["value"], changed["comments"], _slugs(changed)) == (
        "success",
        "waits\n\ndone",
        {OTHER},
    )
    assert api.find_journal_entries(tag=TAG) == []
    assert [e["id"] for e in api.find_journal_entries(tag=OTHER)] == [entry["id"]]
    assert _slugs(api.update_journal_entry(entry["id"], {}, tags=[OTHER, TAG])) == {OTHER, TAG}


def test_an_entry_with_an_unknown_tag_or_object_is_refused(api: NoticesApi) -> None:
    provider = api.ensure_provider("contract-unmatched", name="Contract unmatched", description="d")
    with pytest.raises(NetBoxValidationError) as refused:
        api.add_tagged_journal_entry("circuits.provider", provider, "x", kind="warning", tags=["no-such-tag"])
    assert "tags" in refused.value.body
    api.ensure_tag(TAG, color="ff9800", description="d")
    with pytest.raises(NetBoxValidationError) as refused:
        api.add_tagged_journal_entry("circuits.provider", provider + 999, "x", kind="warning", tags=[TAG])
    assert "__all__" in refused.value.body
    with pytest.raises(NetBoxNotFound):
        api.update_journal_entry(99999, {"kind": "success"})


def test_an_entry_with_a_nul_character_is_refused(api: NoticesApi) -> None:
    provider = api.ensure_provider("contract-unmatched", name="Contract unmatched", description="d")
    api.ensure_tag(TAG, color="ff9800", description="d")
    with pytest.raises(NetBoxValidationError) as refused:
        api.add_tagged_journal_entry("circuits.provider", provider, "a\x00b", kind="warning", tags=[TAG])
    assert "comments" in refused.value.body
