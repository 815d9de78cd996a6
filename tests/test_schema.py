"""The checked-in JSON Schema is generated from the models and stays fresh."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from mlspec.spec.schema import CHECKED_IN, platform_schema, schema_text
from tests.conftest import EXAMPLE


def test_checked_in_schema_is_fresh() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == schema_text(), (
        "regenerate it: mlspec schema > src/mlspec/schemas/platform.schema.json"
    )


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for model_name, model in schema.get("$defs", {}).items():
        for field, prop in model.get("properties", {}).items():
            found.append((f"{model_name}.{field}", prop))
    for field, prop in schema.get("properties", {}).items():
        found.append((f"Platform.{field}", prop))
    return found


def test_every_field_has_a_description_and_examples() -> None:
    missing = []
    for name, prop in _properties(platform_schema()):
        described = "description" in prop
        has_examples = "examples" in prop
        if not (described and has_examples):
            missing.append(name)
    assert missing == []


def test_the_example_is_valid_against_the_json_schema() -> None:
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(EXAMPLE.read_text())
    # JSON Schema sees YAML integer keys as strings, as editors do
    for model in data["models"].values():
        model["versions"] = {str(k): v for k, v in model["versions"].items()}
    jsonschema.Draft202012Validator(platform_schema()).validate(json.loads(json.dumps(data)))
