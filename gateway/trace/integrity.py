"""The warning ``tongban trace`` prints when an application's stored state and its audit disagree.

Kept apart from the timeline's rendering: it is printed whatever the format, so
a status changed around the gateway (不予受理 next to a timeline ending in 准予)
is never shown without saying so.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["warn_if_audit_disagrees"]


def warn_if_audit_disagrees(result: dict[str, Any]) -> None:
    """Print one warning line (stderr, red) per disagreement in a `find_trace` result."""
    for trace in result["applications"]:
        for disagreement in trace.get("audit_disagreements", ()):
            click.secho(
                f"WARNING: the stored state disagrees with the audit log: "
                f"{disagreement['message']}. Trust the audit log; run `tongban audit verify`.",
                fg="red",
                bold=True,
                err=True,
            )
