"""Backups of the embedded store: take one while the gateway runs, verify it, restore it."""

from gateway.backup.copy import BackupError, BackupSummary, take_backup
from gateway.backup.restore import RestoreSummary, read_manifest, restore_backup

__all__ = [
    "BackupError",
    "BackupSummary",
    "RestoreSummary",
    "read_manifest",
    "restore_backup",
    "take_backup",
]
