"""Reading migration files: numbering, naming, and the two bundled sets.

Applying them to a database, on each backend, is tested in
tests/integration/test_store_migrations.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.migration_files import write_migrations

from gateway.errors import MigrationError
from gateway.store import bundled_migrations
from gateway.store.migrations import load_migrations


def test_gap_in_numbering_is_refused(tmp_path: Path) -> None:
    directory = write_migrations(tmp_path / "m", {"0001_a.sql": "", "0003_c.sql": ""})
    with pytest.raises(MigrationError, match="0002 is missing"):
        load_migrations(directory)


def test_misnamed_file_is_refused(tmp_path: Path) -> None:
    directory = write_migrations(tmp_path / "m", {"1_a.sql": ""})
    with pytest.raises(MigrationError, match="NNNN_name"):
        load_migrations(directory)


def test_bundled_sets_match_across_backends() -> None:
    """Every backend has the same numbered migrations, so the schema evolves in step."""
    sqlite = [(m.version, m.name) for m in bundled_migrations("sqlite")]
    postgres = [(m.version, m.name) for m in bundled_migrations("postgres")]
    assert sqlite == postgres
