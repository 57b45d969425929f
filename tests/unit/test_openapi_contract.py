"""contracts/openapi.yaml: built from the code, valid OpenAPI 3.1, in step with the routes.

A route added without documenting it, a documented path nobody serves, a model
change without re-running ``tools/build_openapi.py``, or an example request the
schema refuses: each fails here.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from support.openapi import REPO, SPEC_PATH, load_spec, schema_validator

from gateway.app import create_app
from gateway.catalog.loader import load_catalog
from gateway.config import Settings
from gateway.envelope import Envelope

CATALOGS = REPO / "catalogs"
EXAMPLES = REPO / "contracts" / "examples"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def _build_script() -> ModuleType:
    location = REPO / "tools" / "build_openapi.py"
    spec = importlib.util.spec_from_file_location("build_openapi", location)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_files_are_what_the_build_script_renders() -> None:
    rendered: dict[Path, str] = _build_script().render()
    assert set(rendered) == {
        SPEC_PATH,
        REPO / "contracts" / "schemas" / "envelope.schema.json",
        REPO / "contracts" / "schemas" / "item.schema.json",
    }
    stale = [
        str(path.relative_to(REPO))
        for path, text in rendered.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run `python tools/build_openapi.py`; stale: {stale}"


def test_the_packaged_copy_is_the_contract() -> None:
    packaged = REPO / "gateway" / "api" / "openapi.yaml"
    assert packaged.read_bytes() == SPEC_PATH.read_bytes()


def test_spec_is_valid_openapi_3_1() -> None:
    spec = load_spec()
    assert spec["openapi"].startswith("3.1.")
    errors = [error.message for error in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert errors == []


def test_the_validator_catches_a_broken_spec() -> None:
    """The check above can fail: a response without its required description is refused."""
    spec = copy.deepcopy(load_spec())
    del spec["paths"]["/healthz"]["get"]["responses"]["200"]["description"]
    assert list(OpenAPIV31SpecValidator(spec).iter_errors())


def _served(settings: Settings) -> set[tuple[str, str]]:
    app = create_app(settings)
    # The staff console's HTML pages (/console/...) are not part of the REST contract.
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and not route.resource.canonical.startswith("/console")
    }


def _documented() -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in load_spec()["paths"].items()
        for method in item
        if method in METHODS
    }


def test_every_route_the_app_serves_is_documented(settings: Settings) -> None:
    served = _served(settings)
    assert {("get", "/v1/catalog/items/{code}"), ("get", "/openapi.yaml")} <= served
    undocumented = served - _documented()
    assert not undocumented, f"add these to tools/openapi_skeleton.yaml: {sorted(undocumented)}"


def test_every_documented_operation_is_served(settings: Settings) -> None:
    missing = _documented() - _served(settings)
    assert not missing, f"documented but not served: {sorted(missing)}"


def test_every_path_parameter_is_declared() -> None:
    spec = load_spec()
    for path, item in spec["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method in (m for m in item if m in METHODS):
            declared = {
                _deref(spec, p)["name"]
                for p in [*item.get("parameters", []), *item[method].get("parameters", [])]
                if _deref(spec, p)["in"] == "path"
            }
            assert declared == names, f"{method.upper()} {path}"


def _deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    result: dict[str, Any] = target
    return result


def _submission_schema() -> Draft202012Validator:
    return schema_validator(
        load_spec(),
        "paths",
        "/v1/applications",
        "post",
        "requestBody",
        "content",
        "application/json",
        "schema",
    )


EXAMPLE_FILES = sorted(EXAMPLES.glob("submission_*.json"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_example_requests_validate_against_the_submission_schema(path: Path) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    errors = [error.message for error in _submission_schema().iter_errors(example)]
    assert errors == []


def test_the_submission_schema_refuses_what_the_model_refuses() -> None:
    example = json.loads(EXAMPLE_FILES[0].read_text(encoding="utf-8"))
    validator = _submission_schema()
    assert not validator.is_valid({**example, "colour": "blue"})  # extra="forbid"
    assert not validator.is_valid({k: v for k, v in example.items() if k != "item_code"})
    assert not validator.is_valid({**example, "handling_mode": "teleport"})
    assert not validator.is_valid({**example, "applicant": {**example["applicant"], "kind": "?"}})


def test_example_requests_are_the_spec_examples() -> None:
    content = load_spec()["paths"]["/v1/applications"]["post"]["requestBody"]["content"]
    shown = {
        name: entry["value"] for name, entry in content["application/json"]["examples"].items()
    }
    assert shown == {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLE_FILES}


def _standalone(name: str) -> Draft202012Validator:
    schema = json.loads((REPO / "contracts" / "schemas" / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_every_catalogue_item_validates_against_item_schema() -> None:
    validator = _standalone("item.schema.json")
    catalog = load_catalog(CATALOGS)
    for item in catalog.items:
        errors = [e.message for e in validator.iter_errors(item.model_dump(mode="json"))]
        assert errors == [], item.code


def test_an_envelope_validates_against_envelope_schema() -> None:
    envelope = Envelope.model_validate(
        {
            "envelope_id": "env-1",
            "idempotency_key": "app-1:withdrawal",
            "application_id": "app-1",
            "request_id": "req-1",
            "item_code": "SZ-P-0001",
            "receiving_region": "dongguan",
            "competent_region": "shenzhen",
            "created_at": "2026-11-27T09:30:00+08:00",
            "body": {"kind": "withdrawal", "reason": "申请人不再需要"},
        }
    )
    validator = _standalone("envelope.schema.json")
    document = json.loads(envelope.model_dump_json())
    assert validator.is_valid(document)
    assert not validator.is_valid({**document, "body": {"kind": "withdrawal"}})


def test_spec_file_is_plain_yaml_with_string_dates() -> None:
    """Dates stay strings (quoted), so the YAML and JSON forms carry the same data."""
    text = SPEC_PATH.read_text(encoding="utf-8")
    assert json.loads(json.dumps(yaml.safe_load(text))) == yaml.safe_load(text)
