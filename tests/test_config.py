"""Settings: every missing or malformed variable is named in one error; defaults match the templates."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sesflow.cli import app
from sesflow.config import (
    COMMON_VARIABLES,
    VARIABLES,
    ConfigError,
    Flow,
    load_settings,
)

pytestmark = pytest.mark.unit

VALID: dict[Flow, dict[str, str]] = {
    Flow.RELAY: {
        "IDEMPOTENCY_TABLE": "sesflow-idempotency",
        "INCOMING_BUCKET": "relay-incoming",
        "ATTACHMENTS_BUCKET": "relay-attachments",
        "SENDER_EMAIL": "relay@iot.example.com",
        "SNS_TOPIC": "arn:aws:sns:eu-west-1:123456789012:relay-fallback",
    },
    Flow.INBOUND: {
        "IDEMPOTENCY_TABLE": "sesflow-idempotency",
        "NETBOX_URL": "https://netbox.example.com/",
        "NETBOX_API_TOKEN": "nbt_abc.def",
        "S3_BUCKET_NAME": "notices-inbound",
    },
    Flow.OUTBOUND: {
        "IDEMPOTENCY_TABLE": "sesflow-idempotency",
        "NETBOX_URL": "https://netbox.example.com",
        "NETBOX_API_TOKEN": "nbt_abc.def",
        "SES_FROM_ADDRESS": "noc@example.com",
        "SES_CONFIGURATION_SET": "netbox-notices-tracking",
    },
    Flow.TRACKING: {
        "IDEMPOTENCY_TABLE": "sesflow-idempotency",
        "NETBOX_URL": "http://127.0.0.1:8000",
        "NETBOX_API_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nb-AbCdEf",
    },
}


@pytest.mark.parametrize("flow", list(Flow))
def test_valid_environment_loads(flow: Flow) -> None:
    settings = load_settings(flow, VALID[flow])
    assert settings.common.idempotency_table == "sesflow-idempotency"
    assert settings.common.log_level == "INFO"


@pytest.mark.parametrize("flow", list(Flow))
def test_every_missing_required_variable_is_named_in_one_error(flow: Flow) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(flow, {})
    named = {problem.variable for problem in caught.value.problems}
    assert named == set(VALID[flow]) - {"NETBOX_API_TOKEN_SECRET_ARN"} | (
        {"NETBOX_API_TOKEN"} if flow is not Flow.RELAY else set()
    )
    for variable in named:
        assert variable in str(caught.value)


def test_relay_defaults_match_the_templates() -> None:
    settings = load_settings(Flow.RELAY, VALID[Flow.RELAY])
    assert settings.max_recipients == 500
    assert settings.presigned_expiration == 129_600
    assert settings.recipients_marker == "Email_Rxers_Code"
    assert settings.allowed_senders == () and settings.allowed_recipient_domains == ()
    assert settings.configuration_set is None


def test_every_malformed_relay_value_is_reported_together() -> None:
    env = VALID[Flow.RELAY] | {
        "SENDER_EMAIL": "not-an-address",
        "SNS_TOPIC": "arn:aws:sqs:eu-west-1:123456789012:wrong-service",
        "MAX_RECIPIENTS": "many",
        "PRESIGNED_EXPIRATION": "604801",
        "CONFIGURATION_SET": "has spaces",
        "EMAIL_REGEX_CODE": "a b",
        "ALLOWED_SENDERS": "ok@example.com, @bad_domain",
        "ALLOWED_RECIPIENT_DOMAINS": "example.com,not_a_domain,-bad-.example",
        "LOG_LEVEL": "LOUD",
        "INCOMING_BUCKET": "Bad_Bucket",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(Flow.RELAY, env)
    assert [p.variable for p in caught.value.problems] == [
        "LOG_LEVEL",
        "INCOMING_BUCKET",
        "SENDER_EMAIL",
        "SNS_TOPIC",
        "CONFIGURATION_SET",
        "MAX_RECIPIENTS",
        "PRESIGNED_EXPIRATION",
        "EMAIL_REGEX_CODE",
        "ALLOWED_SENDERS",
        "ALLOWED_RECIPIENT_DOMAINS",
        "ALLOWED_RECIPIENT_DOMAINS",
    ]
    message = str(caught.value)
    assert "must be between 1 and 604800, got 604801" in message
    assert "'@bad_domain': is not a valid domain name" in message
    assert "11 problems" in message


def test_allowed_lists_accept_commas_semicolons_and_spaces() -> None:
    env = VALID[Flow.RELAY] | {
        "ALLOWED_SENDERS": "Sensor@IoT.example.com; @Plant.Example.com  gw@x.example.org",
        "ALLOWED_RECIPIENT_DOMAINS": "@Example.com,ops.example.net",
    }
    settings = load_settings(Flow.RELAY, env)
    assert settings.allowed_senders == ("sensor@iot.example.com", "@plant.example.com", "gw@x.example.org")
    assert settings.allowed_recipient_domains == ("example.com", "ops.example.net")


def test_inbound_maps_and_flags() -> None:
    env = VALID[Flow.INBOUND] | {
        "PROVIDER_MAP": '{"Example.NET": "zayo"}',
        "INBOUND_REQUIRE_AUTH": "False",
        "S3_KEY_PREFIX": "inbound/",
    }
    settings = load_settings(Flow.INBOUND, env)
    assert settings.provider_map == {"example.net": "zayo"}
    assert settings.netbox_provider_map == {}
    assert settings.require_auth is False
    assert settings.key_prefix == "inbound/"
    assert settings.netbox.url == "https://netbox.example.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{not json", "must be a JSON object: Expecting property name"),
        ('["zayo"]', "must be a JSON object of strings"),
        ('{"a.example": 3}', "must be a JSON object of strings"),
    ],
)
def test_malformed_provider_map_is_explained(raw: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings(Flow.INBOUND, VALID[Flow.INBOUND] | {"PROVIDER_MAP": raw})


def test_outbound_flags_and_secret_stay_out_of_repr() -> None:
    env = VALID[Flow.OUTBOUND] | {"WEBHOOK_SECRET": "s3cr3t", "OUTBOUND_RECIPIENTS_VISIBLE": "yes"}
    settings = load_settings(Flow.OUTBOUND, env)
    assert settings.recipients_visible is True
    assert settings.webhook_secret == "s3cr3t"
    assert "s3cr3t" not in repr(settings) and "nbt_abc" not in repr(settings)


@pytest.mark.parametrize("value", ["maybe", "2", "tru"])
def test_booleans_must_be_clear(value: str) -> None:
    with pytest.raises(ConfigError, match="INBOUND_REQUIRE_AUTH: must be true or false"):
        load_settings(Flow.INBOUND, VALID[Flow.INBOUND] | {"INBOUND_REQUIRE_AUTH": value})


def test_netbox_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="NETBOX_URL: must be an http"):
        load_settings(Flow.TRACKING, VALID[Flow.TRACKING] | {"NETBOX_URL": "netbox.example.com"})


@pytest.mark.parametrize("flow", list(Flow))
def test_config_check_lists_every_variable_of_the_flow(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in {*COMMON_VARIABLES, *(v for f in Flow for v in VARIABLES[f])}:
        monkeypatch.delenv(name, raising=False)
    for name, value in VALID[flow].items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["config", "check", "--flow", flow.value], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in (*COMMON_VARIABLES, *VARIABLES[flow]):
        assert name in result.output
    assert "valid" in result.output
    assert "nbt_abc" not in result.output


def test_config_check_fails_and_names_the_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in VALID[Flow.OUTBOUND].items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SES_FROM_ADDRESS")
    monkeypatch.setenv("OUTBOUND_RECIPIENTS_VISIBLE", "sometimes")
    result = CliRunner().invoke(app, ["config", "check", "--flow", "outbound"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "is required but not set" in result.output
    assert "must be true or false" in result.output
    assert "2 problem(s)" in result.output
