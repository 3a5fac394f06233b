"""Each fake offers every public method of its port, with the same parameters (names, kinds, defaults): a
method added to a port fails here until its fake has it and a contract test pins it."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import pytest

from sesflow.aws.attempts import SendAttempts
from sesflow.aws.claim_store import DynamoClaimStore
from sesflow.aws.ses import SesSender
from sesflow.aws.sns import Publisher
from sesflow.aws.store import ObjectStore
from sesflow.aws.tracking_ledger import TrackingTable
from sesflow.netbox.notices import NoticesApi

from ..fakes.claim_store import FakeClaimStore
from ..fakes.notices import FakeNotices
from ..fakes.object_store import FakeObjectStore
from ..fakes.send_marks import FakeSendAttempts
from ..fakes.ses import FakeSesSender
from ..fakes.sns import FakePublisher
from ..fakes.tracking_ledger import FakeTrackingLedger

if TYPE_CHECKING:  # the flows' protocols, as mypy sees the fakes
    from sesflow.aws.ses import MailSender
    from sesflow.notices.claims import ClaimStore
    from sesflow.notices.tracking.ledger import TrackingLedger
    from sesflow.relay.ports import MailStore, NoticePublisher, SendMarks

    _mail_store: MailStore = FakeObjectStore()
    _mail_sender: MailSender = FakeSesSender()
    _tracking_ledger: TrackingLedger = FakeTrackingLedger()
    _claim_store: ClaimStore = FakeClaimStore()
    _notice_publisher: NoticePublisher = FakePublisher()
    _send_marks: SendMarks = FakeSendAttempts()

pytestmark = pytest.mark.unit

PAIRS = [
    (NoticesApi, FakeNotices),
    (ObjectStore, FakeObjectStore),
    (SesSender, FakeSesSender),
    (TrackingTable, FakeTrackingLedger),
    (DynamoClaimStore, FakeClaimStore),
    (Publisher, FakePublisher),
    (SendAttempts, FakeSendAttempts),
]


def public_methods(kind: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(kind, inspect.isfunction)
        if not name.startswith("_")
    }


def parameters(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize(("port", "fake"), PAIRS, ids=[fake.__name__ for _, fake in PAIRS])
def test_the_fake_has_every_method_of_its_port_with_the_same_parameters(port: type, fake: type) -> None:
    real, offered = public_methods(port), public_methods(fake)
    assert sorted(set(real) - set(offered)) == []
    for name, signature in real.items():
        assert parameters(offered[name]) == parameters(signature), name


def test_the_notices_fake_returns_what_the_port_returns() -> None:
    real, offered = public_methods(NoticesApi), public_methods(FakeNotices)
    assert {name: offered[name].return_annotation for name in real} == {
        name: signature.return_annotation for name, signature in real.items()
    }
