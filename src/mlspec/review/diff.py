"""`mlspec diff BASE HEAD`: what a change to platform.yaml does, object by object.

Both sides are compiled in memory, every environment, and compared object by
object (added / removed / changed, with field-level detail). On top sits an
ML-aware summary read from the two typed platforms (see `summary.py`) and the
monthly GPU cost per tenant from the capacity analysis.
"""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.spec.frontend import SpecFile
from mlspec.spec.loader import load_text

IGNORED_ANNOTATIONS = ("mlspec.dev/source-digest",)
MISSING = "(absent)"


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any
    after: Any
    lines: bool = False  # before/after are changed lines of a multi-line string


@dataclass(frozen=True)
class ObjectChange:
    env: str
    tenant: str  # "platform" for objects of no tenant
    kind: str
    name: str
    file: str
    change: str  # added | removed | changed
    fields: tuple[FieldChange, ...] = ()


@dataclass
class Diff:
    summary: list[str] = field(default_factory=list)
    costs: list[tuple[str, str, float, float]] = field(default_factory=list)  # env, tenant
    objects: list[ObjectChange] = field(default_factory=list)


def read_side(argument: str) -> SpecFile:
    """A spec file path, or ``git:<ref>:<path>`` read from the repository here."""
    if not argument.startswith("git:"):
        return SpecFile.read(argument)
    _, ref, path = argument.split(":", 2) if argument.count(":") >= 2 else ("", "", "")
    if not ref or not path:
        raise MlspecError(Diagnostic("MLS907", f"expected git:<ref>:<path>, got {argument!r}"))
    done = subprocess.run(["git", "show", f"{ref}:{path}"], capture_output=True, check=False)
    if done.returncode != 0:
        message = f"cannot read {argument}: {done.stderr.decode(errors='replace').strip()}"
        raise MlspecError(Diagnostic("MLS907", message, Location(argument, 1, 1)))
    return SpecFile(argument, PurePosixPath(path).name, done.stdout)


def object_changes(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> list[ObjectChange]:
    """Compare two compiled trees (path -> bytes), ignoring kustomization listings."""
    changes: list[ObjectChange] = []
    for path in sorted(set(before) | set(after)):
        if path.endswith("kustomization.yaml") or before.get(path) == after.get(path):
            continue
        old, new = _parse(before.get(path)), _parse(after.get(path))
        obj = new if new is not None else old
        assert obj is not None
        fields: tuple[FieldChange, ...] = ()
        if old is None:
            kind = "added"
        elif new is None:
            kind = "removed"
        else:
            kind, fields = "changed", tuple(field_changes(_comparable(old), _comparable(new)))
            if not fields:
                continue
        env, _, rel = path.partition("/")
        changes.append(
            ObjectChange(
                env, _tenant_of(rel, obj), obj.get("kind", "?"), _name(obj), rel, kind, fields
            )
        )
    return changes


def field_changes(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Leaf-level differences, with dotted paths (``spec.predictor.minReplicas``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[FieldChange] = []
        for key in sorted(set(before) | set(after)):
            child = f"{path}.{key}" if path else str(key)
            found += field_changes(before.get(key, MISSING), after.get(key, MISSING), child)
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            found += field_changes(old, new, f"{path}[{index}]")
        return found
    if before == after:
        return []
    if isinstance(before, str) and isinstance(after, str) and "\n" in before + after:
        return _text_changes(path, before, after)
    return [FieldChange(path, before, after)]


def _text_changes(path: str, before: str, after: str) -> list[FieldChange]:
    """Multi-line strings (embedded JSON, configs): only the lines that differ."""
    old_lines, new_lines = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    found = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag != "equal":
            old = "\n".join(line.strip() for line in old_lines[a0:a1]) or MISSING
            new = "\n".join(line.strip() for line in new_lines[b0:b1]) or MISSING
            found.append(FieldChange(f"{path} (line {a0 + 1})", old, new, lines=True))
    return found


def _parse(content: bytes | None) -> dict[str, Any] | None:
    if content is None:
        return None
    loaded = load_text(content.decode("utf-8"), "compiled")
    return loaded.data if loaded.data is not None else {"content": content.decode("utf-8")}


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without fields that change with any edit of its spec node."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("annotations"), dict):
        return obj
    annotations = {k: v for k, v in metadata["annotations"].items() if k not in IGNORED_ANNOTATIONS}
    return {**obj, "metadata": {**metadata, "annotations": annotations}}


def _tenant_of(rel: str, obj: dict[str, Any]) -> str:
    parts = rel.split("/")
    if parts[0] == "tenants" and len(parts) > 2:
        return parts[1]
    if parts[:2] == ["platform", "tenants"] and len(parts) > 3:
        return parts[2]
    labels = (
        obj.get("metadata", {}).get("labels", {}) if isinstance(obj.get("metadata"), dict) else {}
    )
    tenant = labels.get("mlspec.dev/tenant") if isinstance(labels, dict) else None
    return str(tenant) if tenant else "platform"


def _name(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and metadata.get("name"):
        return str(metadata["name"])
    return str(obj.get("kind", "document"))
