"""Whether NetBox sends ETags and honours If-Match (4.6 and later), as the client finds out: from the first
answer about one object, else from the version. NetBox 4.7 directly, and behind a proxy that makes it 4.5."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import DEMO_SEED, seed_netbox
from sesflow.netbox.client import NetBoxClient, netbox_version
from sesflow.netbox.notices import NoticesApi

from .no_etag_proxy import REPORTED_VERSION, NoETagProxy


@pytest.mark.parametrize(
    ("reported", "parsed"),
    [("4.7.3", (4, 7, 3)), ("4.6.0-beta2", (4, 6, 0)), ("4.5", (4, 5)), ("", ()), ("v4", ())],
)
def test_versions_are_read_as_numbers(reported: str, parsed: tuple[int, ...]) -> None:
    assert netbox_version({"netbox-version": reported}) == parsed


@pytest.fixture
def proxy(clean_netbox: RunningNetBox) -> Iterator[NoETagProxy]:
    running = NoETagProxy(int(clean_netbox.url.rsplit(":", 1)[1]))
    yield running
    running.close()


@pytest.mark.netbox
@pytest.mark.integration
def test_netbox_47_honours_etags_and_45_does_not(clean_netbox: RunningNetBox, proxy: NoETagProxy) -> None:
    direct = NetBoxClient(clean_netbox.url, clean_netbox.tokens.admin)
    as_45 = NetBoxClient(proxy.url, clean_netbox.tokens.admin)

    assert direct.honours_etags() is True
    assert as_45.status()["netbox-version"] == REPORTED_VERSION
    assert as_45.honours_etags() is False
    assert [line.split()[1] for line in proxy.forwarded] == ["/api/status/", "/api/status/"]  # once a client


@pytest.mark.netbox
@pytest.mark.integration
def test_an_answer_without_an_etag_outweighs_the_version(clean_netbox: RunningNetBox) -> None:
    """A proxy may strip the headers of a NetBox new enough to send them: what came back decides."""
    admin = clean_netbox.tokens.admin
    seeded = seed_netbox(NetBoxClient(clean_netbox.url, admin), DEMO_SEED)
    assert seeded.template is not None
    notification = NoticesApi(NetBoxClient(clean_netbox.url, admin)).create_prepared_notification(
        template_id=seeded.template, subject="s", body_text="b"
    )
    stripping = NoETagProxy(int(clean_netbox.url.rsplit(":", 1)[1]), version=None)
    try:
        before_any_read = NetBoxClient(stripping.url, admin)
        assert before_any_read.honours_etags() is True  # 4.7, as far as the version says
        after_a_read = NetBoxClient(stripping.url, admin)
        read = NoticesApi(after_a_read).get_prepared_notification(notification.id)
        assert read.etag is None and after_a_read.honours_etags() is False
        assert [line.split()[1] for line in stripping.forwarded].count("/api/status/") == 1
    finally:
        stripping.close()
