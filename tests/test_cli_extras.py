"""A command whose optional extra is not installed says in one line which extra to install, and exits 2
before touching anything (tests/test_wheel.py checks the same on a real `sesflow[cli]` install)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sesflow.cli import app
from sesflow.cli.extras import EXTRA_MODULES

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("extra", "arguments"),
    [
        ("notices", ["notices", "inbound", "plan", "notice.eml"]),
        ("notices", ["notices", "tracking", "replay", "events.json"]),
        ("local", ["local", "up"]),
        ("local", ["demo"]),
    ],
)
def test_a_command_without_its_extra_names_the_extra(
    extra: str, arguments: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(EXTRA_MODULES, extra, ("sesflow_test_module_not_installed",))
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().endswith(f"pip install 'sesflow[{extra}]'")
    assert result.stderr.count("\n") == 1
    assert "sesflow_test_module_not_installed not installed" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_with_the_extras_installed_a_notices_command_runs() -> None:
    # The command's own check answers: the extra check let it through and its lazy imports worked.
    result = CliRunner().invoke(app, ["notices", "inbound", "replay", "/not/an/s3/url"])
    assert result.exit_code == 2
    assert "not an s3:// URL: '/not/an/s3/url'" in result.output
    assert "sesflow[notices]" not in result.output
