"""The example applications and attachment files in contracts/examples, and the test
catalogue they are written for: what tests submit, and uploading their files first.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.partner_signing import SignedClient

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "contracts" / "examples"
APPLICATIONS_CATALOGUE = REPO / "tests" / "data" / "applications_catalogue"


def example(name: str = "full_online_person", **changes: Any) -> dict[str, Any]:
    """The example submission ``submission_<name>.json``, with `changes` set on top."""
    path = EXAMPLES / f"submission_{name}.json"
    body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return copy.deepcopy(body) | changes


@dataclass(frozen=True)
class ExampleFile:
    """An attachment the example submissions refer to by its SHA-256."""

    name: str
    content: bytes
    media_type: str


def example_files() -> Iterator[ExampleFile]:
    """Every example attachment, in name order, with the media type to upload it as."""
    for path in sorted((EXAMPLES / "attachments").iterdir()):
        media_type = "application/pdf" if path.suffix == ".pdf" else "image/jpeg"
        yield ExampleFile(path.name, path.read_bytes(), media_type)


async def upload_examples(client: SignedClient) -> None:
    """Upload the example attachments (signed), so the example submissions find them.

    200 (already stored) counts as uploaded: the upload is idempotent by content."""
    for file in example_files():
        response = await client.post(
            "/v1/attachments", data=file.content, headers={"Content-Type": file.media_type}
        )
        assert response.status in (200, 201), await response.text()
