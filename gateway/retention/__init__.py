"""Retention of personal data: purge closed cases' personal data once its time is up."""

from gateway.retention.job import retention_context, run_purge
from gateway.retention.purge import PURGED_KIND, PurgeReport, purge_due

__all__ = ["PURGED_KIND", "PurgeReport", "purge_due", "retention_context", "run_purge"]
