"""Reading contracts/openapi.yaml in tests, and checking JSON against its schemas.

Schemas are checked with jsonschema (Draft 2020-12, the dialect of OpenAPI 3.1)
with the whole spec registered as one resource, so a schema's ``$ref`` into
``#/components/schemas`` resolves as it does for any OpenAPI tool.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / "contracts" / "openapi.yaml"
_SPEC_URI = "urn:tongban:openapi"


@functools.cache
def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_spec() -> dict[str, Any]:
    """The committed spec as data (cached: callers must not modify it)."""
    spec: dict[str, Any] = _load(SPEC_PATH)
    return spec


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def schema_validator(spec: dict[str, Any], *pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` (path parts, unescaped) inside `spec`."""
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, DRAFT202012.create_resource(spec))
    reference = f"{_SPEC_URI}#/" + "/".join(_escape(part) for part in pointer)
    return Draft202012Validator(
        {"$ref": reference}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def response_validator(
    spec: dict[str, Any], path: str, method: str, status: int, media_type: str
) -> Draft202012Validator:
    """The validator for a response's body, as the spec documents it.

    Fails (AssertionError) if the status or the media type is not documented for the
    operation; a response given by ``$ref`` is followed to its component.
    """
    responses = spec["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path}: {status} is not documented"
    pointer: tuple[str, ...] = ("paths", path, method, "responses", str(status))
    response = responses[str(status)]
    if "$ref" in response:
        pointer = tuple(response["$ref"].removeprefix("#/").split("/"))
        response = spec["components"]["responses"][pointer[-1]]
    content = response.get("content", {})
    assert media_type in content, f"{method.upper()} {path} {status}: {media_type} not documented"
    return schema_validator(spec, *pointer, "content", media_type, "schema")


def errors_of(validator: Draft202012Validator, document: Any) -> list[str]:
    """Every validation error, as ``path: message``, for a readable assertion."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]
