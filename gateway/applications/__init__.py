"""Applications (办件): model, status lifecycle, intake, supplements, ratings."""

from gateway.applications.status import FINAL_STATUSES, Status

__all__ = ["FINAL_STATUSES", "Status"]
