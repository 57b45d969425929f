"""`tongban partner submit|get` as a person uses it, against a real gateway on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main


@pytest.mark.parametrize("command", ["get", "submit"])
def test_a_url_without_its_scheme_is_named_as_such(tmp_path: Path, command: str) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not read: the URL is refused first", encoding="utf-8")
    argument = tmp_path / "application.json"
    argument.write_text("{}", encoding="utf-8")
    last = str(argument) if command == "submit" else "some-id"
    options = ["--url", "localhost:8080", "--key", str(key), "--key-id", "k"]
    result = CliRunner().invoke(main, ["partner", command, *options, last])
    assert result.exit_code == 2, result.output
    assert "the scheme is missing: write http://localhost:8080" in result.output
