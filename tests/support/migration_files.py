"""Migration directories written for a test, to feed the loader made-up migrations."""

from __future__ import annotations

from pathlib import Path


def write_migrations(directory: Path, files: dict[str, str]) -> Path:
    """Write each ``{file name: SQL}`` into `directory` (created); returns `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory
