"""``tongban audit verify|export`` against a real database written by the running app."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner
from support.at_rest import TEST_PASSPHRASE

from gateway.app import STORE, create_app
from gateway.app_keys import AUDIT
from gateway.cli import main
from gateway.config import load_settings

ENV = {"TONGBAN_SECURITY__KEY_PASSPHRASE": TEST_PASSPHRASE}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A settings file, and a database with 30 entries written by the app.

    The app seals a checkpoint as it stops, so all 30 are covered.
    """
    path = tmp_path / "tongban.toml"
    path.write_text(f'data_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    settings = load_settings(path, environ=ENV)

    async def fill() -> None:
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()  # runs the cleanup contexts' start-up halves
        try:
            for i in range(30):
                async with app[STORE].transaction() as conn:
                    await app[AUDIT].log.append(
                        conn, kind="test.appended", actor="system", data={"i": i}
                    )
        finally:
            await runner.cleanup()

    asyncio.run(fill())
    return path


def tamper(config: Path, statement: str) -> None:
    db = sqlite3.connect(config.parent / "var" / "tongban.db")
    try:
        db.execute("DROP TRIGGER audit_entries_no_update")
        db.execute("DROP TRIGGER audit_entries_no_delete")
        db.execute(statement)
        db.commit()
    finally:
        db.close()


def test_verify_passes_on_an_intact_log(config: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "checked 30 entries" in result.output
    assert "OK" in result.output


def test_verify_json_reports_the_counts(config: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["ok"], report["entries"], report["checkpoints_matched"]) == (True, 30, 1)


def test_verify_names_the_first_bad_entry_and_fails(config: Path) -> None:
    tamper(config, "UPDATE audit_entries SET actor = 'staff:mallory' WHERE seq = 12")
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config)])
    assert result.exit_code == 1
    assert "FIRST BAD ENTRY: 12 (changed)" in result.output
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["first_bad"]["seq"] == 12


def test_export_then_verify_the_file_offline(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    args = ["audit", "export", "--config", str(config), "--from", "5", "--to", "20"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 16 entries (5..20)" in result.output
    result = CliRunner().invoke(main, ["audit", "verify", "--file", str(out)])
    assert result.exit_code == 0, result.output
    assert "checked 16 entries (5..20)" in result.output
    assert "pin them with --key" in result.output  # keys taken from the file itself
    key = config.parent / "var" / "keys" / "audit-checkpoint.pub.pem"
    result = CliRunner().invoke(main, ["audit", "verify", "--file", str(out), "--key", str(key)])
    assert result.exit_code == 0, result.output
    assert "pin them" not in result.output


def test_export_beyond_the_latest_checkpoint_is_refused(config: Path, tmp_path: Path) -> None:
    args = ["audit", "export", "--config", str(config), "--to", "30"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1
    assert "not covered by a signed checkpoint" in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_verify_of_a_file_that_is_not_an_export_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.jsonl"
    bogus.write_text('{"hello": 1}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", "verify", "--file", str(bogus)])
    assert result.exit_code == 1
    assert "not a tongban-audit-export/v1 file" in result.output
    assert "Traceback" not in result.output


def test_verify_without_a_database_says_so(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(f'data_dir = "{tmp_path / "nothing"}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(path)])
    assert result.exit_code == 1
    assert "no database" in result.output
