"""The JSON Schema of platform.yaml, generated from the pydantic models.

The checked-in copy (src/mlspec/schemas/platform.schema.json) is what editors
load through ``# yaml-language-server: $schema=...``; a test keeps it fresh.
Regenerate it with ``mlspec schema > src/mlspec/schemas/platform.schema.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlspec.spec.model import Platform

SCHEMA_ID = "https://mlspec.dev/schemas/v1alpha1/platform.schema.json"
CHECKED_IN = Path(__file__).resolve().parent.parent / "schemas" / "platform.schema.json"


def platform_schema() -> dict[str, Any]:
    schema = Platform.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(platform_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
