"""Structural checks on compiled artifacts before anything is written.

Rule 7 (no secret reaches git) and rule 3 (no two objects at one path) are
checked here, on data, so a bug in a compiler cannot slip past them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mlspec.compilers.base import Artifact
from mlspec.diagnostics import Diagnostic, Location


def check_placement(
    env: str, artifact: Artifact, seen: dict[str, str], locate: Any
) -> list[Diagnostic]:
    """Rules 3 and 7 for one artifact: no second object at a path (``seen``: path -> the
    source of the first, filled in here) and no Secret with data. The source is located
    only for a diagnostic: nearly every artifact has none."""
    diagnostics: list[Diagnostic] = []
    path = f"{env}/{artifact.path}"
    first = seen.get(path)
    if first is not None:
        where = locate(artifact.source)
        diagnostics.append(_collision(path, first, artifact.source, where, locate))
    else:
        seen[path] = artifact.source
    if _is_secret_with_data(artifact.object):
        diagnostics.append(
            Diagnostic(
                "MLS803",
                f"{path}: a Secret with data would be committed to git",
                locate(artifact.source),
                artifact.source,
                "reference the secret (ExternalSecret, SealedSecret, SOPS or a Vault path)",
            )
        )
    return diagnostics


def schema_problems(obj: dict[str, Any]) -> list[Any]:
    """What the cluster would reject in ``obj`` (nothing for mlspec's own documents)."""
    from mlspec.gitops.layout import is_kubernetes_object
    from mlspec.output.kubeschema import check_object

    return check_object(obj) if is_kubernetes_object(obj) else []


def schema_diagnostics(
    env: str, artifact: Artifact, problems: Iterable[Any], locate: Any
) -> list[Diagnostic]:
    return [
        Diagnostic(
            "MLS804",
            f"{env}/{artifact.path}: {problem}",
            locate(artifact.source),
            artifact.source,
            "the compiled object would be rejected by the cluster",
        )
        for problem in problems
    ]


def fingerprint(obj: dict[str, Any]) -> str:
    """Canonical JSON of an object: equal objects, equal fingerprints (C-speed)."""
    return _CANONICAL_JSON.encode(obj)


# What json.dumps(obj, sort_keys=True, ...) builds on every call.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _collision(
    path: str, first: str, second: str, where: Location | None, locate: Any
) -> Diagnostic:
    first_location = locate(first)
    return Diagnostic(
        "MLS801",
        f"two objects compile to {path}: from {first} and {second}",
        where,
        second,
        "rename one of them",
        related=(first_location,) if first_location else (),
    )


def _is_secret_with_data(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and bool(obj.get("data") or obj.get("stringData"))
