"""What the demo and the local stack read at run time ships inside the package (`sesflow/local/samples/`),
read with importlib.resources, and stays a faithful copy of the test corpus it was taken from."""

from __future__ import annotations

import json

import pytest

from sesflow.local.demo import NOTICES, packaged_notices
from sesflow.local.netbox.seed import corpus_seed, packaged_seed

from ..conftest import CORPUS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("provider", "name"), NOTICES)
def test_each_demo_notice_is_an_unchanged_corpus_mail(provider: str, name: str) -> None:
    packaged = packaged_notices() / provider / name
    assert packaged.is_file()
    assert packaged.read_bytes() == (CORPUS / provider / name).read_bytes()


def test_the_packaged_notices_carry_the_upstream_licence_and_notice() -> None:
    notices = packaged_notices()
    assert (notices / "LICENSE").read_bytes() == (CORPUS / "LICENSE").read_bytes()
    notice = (notices / "NOTICE").read_text(encoding="utf-8")
    assert "circuit-maintenance-parser" in notice
    assert "v2.9.0" in notice


def test_the_packaged_seed_is_what_the_corpus_gives() -> None:
    """netbox-seed.json is `corpus_seed` of the corpus, written out: the message holds its new `providers`."""
    expected = corpus_seed(CORPUS)
    providers = {provider.slug: list(provider.circuit_ids) for provider in expected.providers}
    assert packaged_seed() == expected, json.dumps(providers, indent=2, ensure_ascii=False)


def test_the_packaged_seed_has_a_circuit_for_every_demo_notice() -> None:
    circuits = {provider.slug: provider.circuit_ids for provider in packaged_seed().providers}
    assert all(circuits.get(provider) for provider, _ in NOTICES)
