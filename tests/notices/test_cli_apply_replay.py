"""`sesflow notices inbound apply` and `replay`, driven through the CLI against moto's S3 server and the real
NetBox: the verdicts SES stored, the summary, and a run interrupted part-way finished by the next one."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from sesflow.aws.clients import AwsClients
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import Seeded
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.notices.inbound import writes
from sesflow.notices.inbound.parser import provider_organizers

from ..netbox.fault_proxy import Fault, FaultProxy
from .conftest import BUCKET, PREFIX, corpus_path
from .mails import as_stored_by_ses

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

MAILS = (("zayo", "zayo4.eml"), ("colt", "colt3.eml"), ("equinix", "equinix3.eml"), ("zayo", "zayo5.eml"))


def _cli(netbox_url: str, token: str, *args: str) -> Result:
    from sesflow.cli.notices import notices_app

    env = {"NETBOX_URL": netbox_url, "NETBOX_API_TOKEN": token}
    return CliRunner().invoke(notices_app, ["inbound", *args], env=env)


def _counts(client: NetBoxClient) -> Counter[str]:
    return Counter(
        {
            name: client.get(f"{PLUGIN}/{name}/", {"limit": 1})["count"]
            for name in ("maintenance", "impact", "eventnotification")
        }
    )


def _stored(aws: AwsClients) -> None:
    aws.s3.create_bucket(Bucket=BUCKET)
    for number, (provider, name) in enumerate(MAILS, start=1):
        raw = as_stored_by_ses(
            corpus_path(provider, name).read_bytes(), envelope=provider_organizers()[provider]
        )
        aws.s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}mail-{number:02d}", Body=raw)
    head = b"From: someone@unlisted.example\r\nSubject: hello\r\nDate: Mon, 1 Jun 2026 10:00:00 +0000\r\n"
    unknown = as_stored_by_ses(head + b"\r\nhi\r\n")
    aws.s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}mail-90", Body=unknown)
    spoofed = as_stored_by_ses(corpus_path("zayo", "zayo4.eml").read_bytes(), auth="fail")
    aws.s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}mail-91", Body=spoofed)


@pytest.fixture
def stored_bucket(aws: AwsClients, clean_netbox: RunningNetBox, corpus_seeded: Seeded) -> RunningNetBox:
    _stored(aws)
    return clean_netbox


def _rows(output: str) -> dict[tuple[str, str], int]:
    """The summary table's rows: (result, reason) → mails."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│┃").split("│")]
        if len(cells) == 3 and cells[2].isdigit():
            rows[(cells[0], cells[1])] = int(cells[2])
    return rows


def test_replay_applies_the_bucket_and_a_second_run_changes_nothing(
    stored_bucket: RunningNetBox, nb_client: NetBoxClient
) -> None:
    url, token = stored_bucket.url, stored_bucket.tokens.admin
    first = _cli(url, token, "replay", f"s3://{BUCKET}/{PREFIX}")
    assert first.exit_code == 0, first.output
    assert _rows(first.output) == {
        ("created", ""): 4,
        ("ignored", "refused"): 1,
        ("ignored", "unknown_provider"): 1,
    }
    after_first = _counts(nb_client)
    assert after_first["maintenance"] == 1 + 1 + 1 + 3  # zayo5 carries three windows
    second = _cli(url, token, "replay", f"s3://{BUCKET}/{PREFIX}")
    assert second.exit_code == 0, second.output
    assert _rows(second.output)[("unchanged", "already applied")] == 4
    assert _counts(nb_client) == after_first


def test_replay_since_a_later_date_skips_older_mails(
    stored_bucket: RunningNetBox, nb_client: NetBoxClient
) -> None:
    result = _cli(
        stored_bucket.url,
        stored_bucket.tokens.admin,
        "replay",
        f"s3://{BUCKET}/{PREFIX}",
        "--since",
        "2999-01-01",
    )
    assert result.exit_code == 0, result.output
    assert "0 of 0 mails" in result.output
    assert _counts(nb_client)["maintenance"] == 0


def test_an_interrupted_replay_is_finished_by_the_next_run_without_duplicates(
    stored_bucket: RunningNetBox, nb_client: NetBoxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, token = stored_bucket.url, stored_bucket.tokens.admin
    real_store = writes._store_mail
    calls = {"n": 0}

    def interrupt_on_the_second_mail(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second mail's maintenance and impacts are written, its mail is not
            raise KeyboardInterrupt
        real_store(*args)

    monkeypatch.setattr(writes, "_store_mail", interrupt_on_the_second_mail)
    interrupted = _cli(url, token, "replay", f"s3://{BUCKET}/{PREFIX}")
    assert interrupted.exit_code == 130, interrupted.output
    assert "interrupted" in interrupted.output
    monkeypatch.setattr(writes, "_store_mail", real_store)
    finished = _cli(url, token, "replay", f"s3://{BUCKET}/{PREFIX}")
    assert finished.exit_code == 0, finished.output
    rows = _rows(finished.output)
    assert rows[("unchanged", "already applied")] == 1
    assert rows[("updated", "")] == 1  # the interrupted one: its mail stored now
    assert rows[("created", "")] == 2
    assert _counts(nb_client) == Counter(maintenance=6, impact=1 + 1 + 1 + 6, eventnotification=6)


def test_a_failed_mail_is_counted_and_the_next_run_applies_it(
    aws: AwsClients, clean_netbox: RunningNetBox, corpus_seeded: Seeded, nb_client: NetBoxClient
) -> None:
    aws.s3.create_bucket(Bucket=BUCKET)
    aws.s3.put_object(
        Bucket=BUCKET,
        Key=f"{PREFIX}one",
        Body=as_stored_by_ses(corpus_path("zayo", "zayo4.eml").read_bytes()),
    )
    proxy = FaultProxy(int(clean_netbox.url.rsplit(":", 1)[1]), faults=deque([Fault(400)]))
    try:
        failed = _cli(proxy.url, clean_netbox.tokens.admin, "replay", f"s3://{BUCKET}/{PREFIX}")
        assert failed.exit_code == 1, failed.output
        assert list(_rows(failed.output)) == [("failed", "NetBoxValidationError")]
        again = _cli(proxy.url, clean_netbox.tokens.admin, "replay", f"s3://{BUCKET}/{PREFIX}")
        assert again.exit_code == 0, again.output
        assert _rows(again.output) == {("created", ""): 1}
    finally:
        proxy.close()


def test_apply_reads_the_verdicts_ses_stored_and_vouch_lifts_them(
    clean_netbox: RunningNetBox, corpus_seeded: Seeded, nb_client: NetBoxClient, tmp_path: Any
) -> None:
    url, token = clean_netbox.url, clean_netbox.tokens.admin
    plain = tmp_path / "zayo4.eml"
    plain.write_bytes(corpus_path("zayo", "zayo4.eml").read_bytes())  # never went through SES: no verdicts
    refused = _cli(url, token, "apply", str(plain))
    assert refused.exit_code == 1
    assert '"result": "refused"' in refused.output
    assert _counts(nb_client)["maintenance"] == 0
    vouched = _cli(url, token, "apply", str(plain), "--vouch")
    assert vouched.exit_code == 0, vouched.output
    assert '"result": "applied"' in vouched.output
    stored = tmp_path / "stored.eml"
    stored.write_bytes(as_stored_by_ses(plain.read_bytes()))
    again = _cli(url, token, "apply", str(stored))  # the same notice as SES stored it: already applied
    assert again.exit_code == 0, again.output
    assert _counts(nb_client) == Counter(maintenance=1, impact=1, eventnotification=1)


def test_apply_reads_a_mail_from_s3(
    aws: AwsClients, stored_bucket: RunningNetBox, nb_client: NetBoxClient
) -> None:
    result = _cli(stored_bucket.url, stored_bucket.tokens.admin, "apply", f"s3://{BUCKET}/{PREFIX}mail-01")
    assert result.exit_code == 0, result.output
    assert _counts(nb_client)["maintenance"] == 1
