"""Environment patches: RFC 7386 JSON merge patches that keep source positions.

The patched document shares every untouched subtree with the base document (no
deep copy), and its `SourceMap` points each patched node at the line of the patch
that set it, every other node at the base. An error in a patched value is thus
reported where the user wrote it.
"""

from __future__ import annotations

from typing import Any

from mlspec.diagnostics import Diagnostic
from mlspec.spec.source import SourceMap, escape_token

PROTECTED_KEYS = ("apiVersion", "kind", "environments")


def environment_patch(data: dict[str, Any], env: str) -> tuple[Any, str] | None:
    """The patch of ``env`` and its JSON pointer, or None when it has none."""
    environments = data.get("environments")
    if not isinstance(environments, dict):
        return None
    environment = environments.get(env)
    if not isinstance(environment, dict) or environment.get("patch") is None:
        return None
    return environment["patch"], f"/environments/{escape_token(env)}/patch"


def check_patch(patch: Any, patch_ptr: str, sources: SourceMap) -> list[Diagnostic]:
    """A patch must be a mapping and must not rewrite what defines the environments."""
    if not isinstance(patch, dict):
        return [
            Diagnostic(
                "MLS402",
                "an environment patch must be a mapping (an RFC 7386 merge patch)",
                sources.value_location(patch_ptr),
                patch_ptr,
            )
        ]
    return [
        Diagnostic(
            "MLS402",
            f"an environment patch may not change `{key}`",
            sources.key_location(f"{patch_ptr}/{key}"),
            f"{patch_ptr}/{key}",
            hint="patch the sections that differ between environments",
        )
        for key in PROTECTED_KEYS
        if key in patch
    ]


def apply_patch(
    data: dict[str, Any], sources: SourceMap, patch: dict[str, Any], patch_ptr: str
) -> tuple[dict[str, Any], SourceMap]:
    """Apply a merge patch; returns the new document and its source map."""
    patched_sources = sources.copy()
    merged = _merge(data, patch, "", patch_ptr, sources, patched_sources)
    assert isinstance(merged, dict)
    return merged, patched_sources


def _merge(
    target: Any,
    patch: Any,
    target_ptr: str,
    patch_ptr: str,
    sources: SourceMap,
    out: SourceMap,
) -> Any:
    if not isinstance(patch, dict):
        _replace_sources(target_ptr, patch_ptr, sources, out)
        return patch
    if not isinstance(target, dict):
        _replace_sources(target_ptr, patch_ptr, sources, out)
        target = {}
    result = dict(target)
    for key, value in patch.items():
        child_target = f"{target_ptr}/{escape_token(key)}"
        child_patch = f"{patch_ptr}/{escape_token(key)}"
        if value is None:
            result.pop(key, None)
            out.drop_subtree(child_target)
            removed_by = sources.get(child_patch)
            if removed_by is not None:  # "missing field" errors then point at the null
                out.set(child_target, removed_by)
        elif key in result:
            result[key] = _merge(result[key], value, child_target, child_patch, sources, out)
        else:
            result[key] = _without_nulls(value)
            _replace_sources(child_target, child_patch, sources, out)
    return result


def _replace_sources(target_ptr: str, patch_ptr: str, sources: SourceMap, out: SourceMap) -> None:
    """The node at ``target_ptr`` now comes from the patch: so do its positions."""
    out.drop_subtree(target_ptr)
    out.graft(target_ptr, sources.subtree(patch_ptr))


def _without_nulls(value: Any) -> Any:
    """RFC 7386: nulls inside an added object mean "absent" too."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value
