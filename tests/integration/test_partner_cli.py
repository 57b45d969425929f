"""`tongban partner submit|get` as a person uses it, against a real gateway and sandboxes
on loopback: the HTTP status shown, a short summary by default, JSON on request."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from rich.cells import cell_len
from structlog.typing import EventDict
from support.examples import example
from support.partner_signing import PARTNER
from support.relay_world import World, running_world

from gateway.cli import main


def partner_options(world: World, tmp_path: Path) -> list[str]:
    key = tmp_path / "partner.pem"
    key.write_bytes(
        PARTNER.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    url = str(world.gateway.client.make_url("")).rstrip("/")
    return ["--url", url, "--key", str(key), "--key-id", PARTNER.keyid]


async def tongban(*args: str) -> Any:
    """Run the CLI in a thread: it runs its own event loop, the gateway runs on ours."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_submit_shows_the_http_status_and_get_a_short_summary(
    tmp_path: Path, logs: list[EventDict]
) -> None:
    """(`logs` captures the gateway's log lines, which would otherwise share stdout.)"""
    async with running_world(tmp_path) as world:
        options = partner_options(world, tmp_path)
        application = tmp_path / "application.json"
        application.write_text(json.dumps(example(), ensure_ascii=False), encoding="utf-8")
        submitted = await tongban("partner", "submit", *options, str(application))
        assert submitted.exit_code == 0, submitted.output
        assert submitted.stderr.splitlines()[0] == "HTTP 202 Accepted"
        answer = json.loads(submitted.stdout)  # stdout stays the JSON answer
        case_id = answer["id"]

        async def approved() -> bool:
            return await world.status_of(case_id) == "approved"

        await world.wait_for(approved, what="the sandbox's approval")
        summary = await tongban("partner", "get", *options, case_id)
        as_json = await tongban("partner", "get", *options, "--json", case_id)
    assert summary.exit_code == 0, summary.output
    lines = summary.stdout.splitlines()
    assert len(lines) <= 25, summary.stdout  # not ~200 lines of raw JSON
    assert all(cell_len(line) <= 80 for line in lines)
    assert lines[0].split() == ["application", case_id]
    assert lines[1].split() == ["status", "approved", "准予"]
    accepted = next(line for line in lines if "accepted 受理" in line)
    assert "region:shenzhen" in accepted
    assert "已受理" in accepted  # the region's own words
    for digest_or_evidence in ("signature_input", "sha-256", "3d74eb49e5f4", "{"):
        assert digest_or_evidence not in summary.stdout
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["status"] == "approved"
    assert document["evidence"]["partner_id"] == PARTNER.id


async def test_an_unknown_application_shows_the_status_and_fails(
    tmp_path: Path, logs: list[EventDict]
) -> None:
    async with running_world(tmp_path) as world:
        options = partner_options(world, tmp_path)
        missing = await tongban("partner", "get", *options, "no-such-application")
    assert missing.exit_code == 1
    assert "the gateway answered HTTP 404 Not Found" in missing.stderr


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
