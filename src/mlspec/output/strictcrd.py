"""The shipped CRDs, and how they become the strict JSON Schemas mlspec checks against.

`CRD_FILES` maps each (group, kind) to its upstream CRD under ``mlspec/crds/``
(provenance in ``mlspec/crds/SOURCES.md``). How a CRD's ``openAPIV3Schema`` becomes
JSON Schema (`_strict`):

* objects with ``properties`` get ``additionalProperties: false`` unless they set
  ``additionalProperties`` or ``x-kubernetes-preserve-unknown-fields: true``;
* ``x-kubernetes-int-or-string`` (and legacy ``format: int-or-string``) become
  ``anyOf: [integer, string]`` when the CRD does not already say so;
* ``nullable: true`` adds ``null`` to ``type``/``enum``; without it ``null`` is an error;
* OpenAPI 3.0 boolean ``exclusiveMinimum``/``exclusiveMaximum`` become numbers, and
  ``x-kubernetes-embedded-resource`` objects accept apiVersion, kind and metadata.

Converting means parsing megabytes of YAML, so the results are shipped precompiled under
``crds/strict/`` (`compiled_crd_files`, `regenerate`) and read back by `crd_versions`.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml

__all__ = [
    "CRD_FILES",
    "DEFINITIONS_ID",
    "OBJECT_META_REF",
    "STRICT_DIR",
    "compile_crd",
    "compiled_crd_files",
    "crd_versions",
    "regenerate",
]

# (group, kind) -> CRD file under mlspec/crds/. tests/test_kubeschema.py checks that this
# table and the files agree.
CRD_FILES: dict[tuple[str, str], str] = {
    ("argoproj.io", "Application"): "argo-cd/application-crd.yaml",
    ("argoproj.io", "ApplicationSet"): "argo-cd/applicationset-crd.yaml",
    ("argoproj.io", "AppProject"): "argo-cd/appproject-crd.yaml",
    ("kustomize.toolkit.fluxcd.io", "Kustomization"): (
        "flux/kustomize.toolkit.fluxcd.io_kustomizations.yaml"
    ),
    ("source.toolkit.fluxcd.io", "GitRepository"): (
        "flux/source.toolkit.fluxcd.io_gitrepositories.yaml"
    ),
    ("serving.kserve.io", "InferenceService"): "kserve/serving.kserve.io_inferenceservices.yaml",
    ("serving.kserve.io", "ServingRuntime"): "kserve/serving.kserve.io_servingruntimes.yaml",
    ("serving.kserve.io", "ClusterServingRuntime"): (
        "kserve/serving.kserve.io_clusterservingruntimes.yaml"
    ),
    ("kubeflow.org", "Profile"): "kubeflow/kubeflow.org_profiles.yaml",
    ("pipelines.kubeflow.org", "Pipeline"): (
        "kubeflow-pipelines/pipelines.kubeflow.org_pipelines.yaml"
    ),
    ("pipelines.kubeflow.org", "PipelineVersion"): (
        "kubeflow-pipelines/pipelines.kubeflow.org_pipelineversions.yaml"
    ),
    ("kueue.x-k8s.io", "ClusterQueue"): "kueue/kueue.x-k8s.io_clusterqueues.yaml",
    ("kueue.x-k8s.io", "Cohort"): "kueue/kueue.x-k8s.io_cohorts.yaml",
    ("kueue.x-k8s.io", "LocalQueue"): "kueue/kueue.x-k8s.io_localqueues.yaml",
    ("kueue.x-k8s.io", "ResourceFlavor"): "kueue/kueue.x-k8s.io_resourceflavors.yaml",
    ("kueue.x-k8s.io", "WorkloadPriorityClass"): (
        "kueue/kueue.x-k8s.io_workloadpriorityclasses.yaml"
    ),
    ("monitoring.coreos.com", "PodMonitor"): (
        "prometheus-operator/monitoring.coreos.com_podmonitors.yaml"
    ),
    ("monitoring.coreos.com", "PrometheusRule"): (
        "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml"
    ),
    ("monitoring.coreos.com", "ServiceMonitor"): (
        "prometheus-operator/monitoring.coreos.com_servicemonitors.yaml"
    ),
}

# Where the Kubernetes definitions (`ObjectMeta`...) live for ``$ref``, and the strict
# ObjectMeta schema that ``metadata`` (embedded or top-level) is checked against.
DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
OBJECT_META_REF = f"{DEFINITIONS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# The CRDs are shipped as upstream wrote them (YAML, with descriptions: 2 MB for the
# InferenceService). Parsing that YAML costs seconds per process, so their strict JSON
# Schemas are also shipped, precompiled, under crds/strict/ (descriptions dropped):
# regenerate them with `python -m mlspec.output.kubeschema` after updating a CRD; a test
# fails while they are stale.
STRICT_DIR = "strict"


def _strict_file(group: str, kind: str) -> str:
    return f"{group}_{kind}.json"


@functools.cache
def crd_versions(group: str, kind: str) -> dict[str, dict[str, Any]]:
    """``version -> {served, deprecated, storage, schema}`` from the precompiled file."""
    path = resources.files("mlspec").joinpath("crds", STRICT_DIR, _strict_file(group, kind))
    return cast(dict[str, dict[str, Any]], json.loads(path.read_text(encoding="utf-8")))


def compile_crd(relpath: str) -> dict[str, dict[str, Any]]:
    """A shipped CRD's versions with their strict JSON Schemas (slow: parses the YAML)."""
    crd = _load_crd(relpath)
    return {
        v["name"]: {
            "served": bool(v.get("served")),
            "deprecated": bool(v.get("deprecated")),
            "storage": bool(v.get("storage")),
            "schema": _strict(v["schema"]["openAPIV3Schema"]),
        }
        for v in crd["spec"]["versions"]
    }


def compiled_crd_files() -> dict[str, str]:
    """File name -> content of every precompiled strict schema, as they should be."""
    return {
        _strict_file(group, kind): json.dumps(compile_crd(relpath), sort_keys=True) + "\n"
        for (group, kind), relpath in sorted(CRD_FILES.items())
    }


# PyYAML built without libyaml has no CSafeLoader: slower, still correct.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _load_crd(relpath: str) -> dict[str, Any]:
    """Parse one shipped CRD. libyaml reads the 2 MB InferenceService CRD ~7x faster than
    ruamel.yaml's pure-Python loader (about 1.3 s against 9 s on the reference machine)."""
    text = resources.files("mlspec").joinpath("crds", relpath).read_text(encoding="utf-8")
    return cast(dict[str, Any], yaml.load(text, Loader=_YAML_LOADER))


# --- openAPIV3Schema -> strict JSON Schema ---------------------------------------------

_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("anyOf", "allOf", "oneOf")
_SUBSCHEMA_MAPS = ("properties", "patternProperties")
_DROPPED = frozenset({"description", "default", "example"})
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def _strict(node: dict[str, Any]) -> dict[str, Any]:
    """A strict JSON Schema copy of one OpenAPI v3 schema node (see the module doc)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in _SUBSCHEMA_MAPS:
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [_strict(sub) for sub in value]
        elif key in _SUBSCHEMA and isinstance(value, dict):
            out[key] = _strict(value)
        else:
            out[key] = value
    _embedded_resource(out)
    _close_object(out)
    _int_or_string(out)
    _exclusive_bounds(out)
    _nullable(out)
    return out


def _embedded_resource(out: dict[str, Any]) -> None:
    """The API server accepts apiVersion/kind/metadata in an embedded object implicitly."""
    if out.get("x-kubernetes-embedded-resource") and "properties" in out:
        out["properties"].setdefault("apiVersion", {"type": "string"})
        out["properties"].setdefault("kind", {"type": "string"})
        out["properties"].setdefault("metadata", {"$ref": OBJECT_META_REF})


def _close_object(out: dict[str, Any]) -> None:
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False


def _int_or_string(out: dict[str, Any]) -> None:
    if out.get("format") == "int-or-string":
        out["x-kubernetes-int-or-string"] = True
        out.pop("type", None)
    if out.get("x-kubernetes-int-or-string") and not any(k in out for k in _SUBSCHEMA_LISTS):
        out.pop("type", None)
        out["anyOf"] = _INT_OR_STRING


def _exclusive_bounds(out: dict[str, Any]) -> None:
    """OpenAPI 3.0 booleans ``exclusiveMinimum: true`` -> JSON Schema numbers."""
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(flag)
        if isinstance(value, bool):
            del out[flag]
            if value and bound in out:
                out[flag] = out.pop(bound)


def _nullable(out: dict[str, Any]) -> None:
    if not out.pop("nullable", False):
        return
    if any(k in out for k in (*_SUBSCHEMA_LISTS, "not")):
        inner = dict(out)
        out.clear()
        out["anyOf"] = [{"type": "null"}, inner]
        return
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]


def regenerate() -> None:
    """Write crds/strict/*.json from the shipped CRDs (run after updating a CRD)."""
    target = Path(__file__).resolve().parent.parent / "crds" / STRICT_DIR
    target.mkdir(exist_ok=True)
    for name, content in compiled_crd_files().items():
        (target / name).write_text(content, encoding="utf-8")
