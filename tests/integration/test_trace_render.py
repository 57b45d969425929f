"""`tongban trace` as people read it, on a real trace (gateway and sandboxes on loopback).

The default view must fit 80 columns, one line per step where it can, show the
region's own message (已受理) and no digests; ``--verbose`` and ``--json`` keep
everything.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console
from test_trace import Traced, get_trace, traced_application

from gateway.cli import main
from gateway.trace.render import render_trace


def rendered(body: dict[str, Any], *, verbose: bool = False, width: int = 80) -> list[str]:
    out = io.StringIO()
    render_trace(body, Console(file=out, width=width, soft_wrap=False), verbose=verbose)
    return out.getvalue().splitlines()


def run_cli(traced: Traced, tmp_path: Path, *args: str) -> Any:
    """`tongban trace ARGS` on a terminal wide enough that no digest is folded."""
    config = tmp_path / "tongban.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    command = ["trace", *args, "--config", str(config)]
    return CliRunner().invoke(main, command, env={"COLUMNS": "400"})


async def test_the_default_view_fits_80_columns_with_the_regions_message(tmp_path: Path) -> None:
    async with traced_application(tmp_path) as traced:
        _, body = await get_trace(traced.world, traced.application_id)
    lines = rendered(body)
    text = "\n".join(lines)
    assert all(cell_len(line) <= 80 for line in lines)
    assert "hmac-sha256" not in text
    assert "delivery_id" not in text
    timeline = body["applications"][0]["timeline"]
    # A short header, then about a line per step: not ~90 rows of wrapped digests.
    assert len(lines) <= 12 + 2 * len(timeline), text
    # Each region decision on one line: when, what, who, outcome and its own words.
    accepted = next(line for line in lines if "accepted 受理" in line)
    assert "region:shenzhen" in accepted
    assert "已受理" in accepted
    assert any("approved 准予" in line and "准予许可" in line for line in lines)
    failed = [line for line in lines if "submission #" in line and "unavailable" in line]
    assert failed
    assert all("→ shenzhen" in line and "[3001]" in line for line in failed)
    assert any("submission #" in line and "delivered" in line for line in lines)


async def test_verbose_and_json_keep_the_digests_and_hops(tmp_path: Path) -> None:
    async with traced_application(tmp_path) as traced:
        _, body = await get_trace(traced.world, traced.application_id)
        short = await asyncio.to_thread(run_cli, traced, tmp_path, traced.application_id)
        verbose = await asyncio.to_thread(
            run_cli, traced, tmp_path, traced.application_id, "--verbose"
        )
        as_json = await asyncio.to_thread(
            run_cli, traced, tmp_path, traced.application_id, "--json"
        )
    assert short.exit_code == 0, short.output
    assert verbose.exit_code == 0, verbose.output
    assert "hmac-sha256:" not in short.output
    assert "已受理" in short.output
    assert "hmac-sha256:" in verbose.output
    assert "answered" in verbose.output  # per-hop times
    assert "hmac-sha256:" in "\n".join(rendered(body, verbose=True, width=400))
    (trace,) = json.loads(as_json.output)["applications"]
    messages = [item.get("message") for item in trace["timeline"] if item["type"] == "event"]
    assert "已受理" in messages
    assert any(
        "hmac-sha256:" in json.dumps(item["data"])
        for item in trace["timeline"]
        if item["type"] == "event"
    )
