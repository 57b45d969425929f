"""`tongban adapters` lists the installed adapters; `tongban sandbox` refuses unknown regions."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gateway.cli import main


def test_adapters_lists_the_four_regions_as_json() -> None:
    result = CliRunner().invoke(main, ["adapters", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["region"]: row for row in json.loads(result.output)["adapters"]}
    assert {"shenzhen", "dongguan", "zhangjiagang", "peer"} <= set(rows)
    assert rows["dongguan"]["sandbox"] == "adapters.dongguan:create_sandbox"


def test_adapters_table() -> None:
    result = CliRunner().invoke(main, ["adapters"])
    assert result.exit_code == 0
    assert "adapters.shenzhen:create" in result.output


def test_sandbox_for_unknown_region_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["sandbox", "atlantis"])
    assert result.exit_code == 2
    assert "no sandbox for 'atlantis'" in result.output
