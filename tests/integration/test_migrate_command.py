"""`tongban migrate` (the Kubernetes init container): brings the schema up to date, exits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main
from gateway.store import bundled_migrations


def test_migrate_applies_every_migration_once_and_says_where(tmp_path: Path) -> None:
    config = tmp_path / "tongban.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    for _ in range(2):  # a second run (the next pod) finds nothing to do
        result = CliRunner().invoke(main, ["migrate", "--config", str(config)])
        assert result.exit_code == 0, result.output
        assert "schema up to date: sqlite:///" in result.output
    conn = sqlite3.connect(tmp_path / "var" / "tongban.db")
    try:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    finally:
        conn.close()
    assert sorted(versions) == [m.version for m in bundled_migrations("sqlite")]
