"""Check every Kubernetes object mlspec writes against its upstream schema, strictly.

Custom resources are checked against the upstream CRDs shipped in ``mlspec/crds/``
(provenance in ``mlspec/crds/SOURCES.md``); core kinds against the strict JSON schemas
of the ``kubernetes-validate`` package for `KUBERNETES_VERSION`. "Strictly" means what
``kubeconform -strict`` means: a field the schema does not know is an error, because the
API server would silently prune it and the output would not mean what mlspec intended.

How a CRD's ``openAPIV3Schema`` becomes JSON Schema (`_strict`):

* objects with ``properties`` get ``additionalProperties: false`` unless they set
  ``additionalProperties`` or ``x-kubernetes-preserve-unknown-fields: true``;
* ``x-kubernetes-int-or-string`` (and legacy ``format: int-or-string``) become
  ``anyOf: [integer, string]`` when the CRD does not already say so;
* ``nullable: true`` adds ``null`` to ``type``/``enum``; without it ``null`` is an error;
* OpenAPI 3.0 boolean ``exclusiveMinimum``/``exclusiveMaximum`` become numbers, and
  ``x-kubernetes-embedded-resource`` objects accept apiVersion, kind and metadata;
* ``metadata`` (CRDs leave it as a bare ``type: object``) is checked against the strict
  Kubernetes ``ObjectMeta`` schema, and `_metadata_problems` checks name, namespace,
  label and annotation syntax, which no JSON schema expresses.

``pattern`` is matched with RE2 (``google-re2``), the engine the API server uses: CRDs
hold Go regexes such as ``^(?i)(abort|warn)?$`` that Python's ``re`` rejects, and ``re``
differs on others (``$`` matches before a trailing newline). Not checked: CEL rules
(``x-kubernetes-validations``), admission webhooks (except the names in `_NAME_RULES`),
``format`` and uniqueness of list-map keys.

Schemas are loaded lazily, once per process, and only for the kinds actually checked:
the InferenceService CRD alone is 2 MB of YAML.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import re2  # type: ignore[import-untyped]
import yaml

from mlspec.output.fastcheck import FastValidator, UnsupportedSchemaError

if TYPE_CHECKING:
    from referencing import Registry

__all__ = ["KUBERNETES_VERSION", "SchemaProblem", "check_object", "check_objects"]

# Schemas for core kinds. 1.37 only adds (mostly alpha) fields over 1.36, so output that
# passes against 1.36 also applies to 1.37; bump together with the kubernetes-validate pin.
KUBERNETES_VERSION = "1.36"

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

_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META_REF = f"{_DEFINITIONS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# apimachinery's Quantity syntax, as CRDs generated by controller-gen spell it.
_QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


@dataclass(frozen=True)
class SchemaProblem:
    """One reason an object does not match its schema.

    ``str()`` gives the one-line form, e.g.
    ``spec.predictor.model.storageURI: unknown field (did you mean storageUri?)``.
    """

    path: str  # JSON pointer inside the object; "" for the object as a whole
    message: str

    @property
    def dotted_path(self) -> str:
        """``path`` as people write it: ``spec.groups[0].rules``, ``spec.hard["cpu.x/y"]``."""
        return _dotted(self.path)

    def __str__(self) -> str:
        return f"{self.dotted_path}: {self.message}" if self.path else self.message


def check_object(obj: dict[str, Any]) -> list[SchemaProblem]:
    """Every schema problem of one object, sorted; ``[]`` means it is valid.

    Never raises: a crash in the checker is reported as a problem, never as a pass.
    """
    try:
        problems = set(_check(obj))
    except Exception as exc:  # a crash must fail the check, whatever it was
        return [SchemaProblem("", f"schema check crashed: {type(exc).__name__}: {exc}")]
    return sorted(problems, key=lambda p: (p.path, p.message))


def check_objects(objs: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, list[SchemaProblem]]:
    """Check ``(file path, object)`` pairs; every path is a key, ``[]`` when all passed."""
    results: dict[str, list[SchemaProblem]] = {}
    for path, obj in objs:
        results.setdefault(path, []).extend(check_object(obj))
    return results


# --- choosing the schema --------------------------------------------------------------


@dataclass(frozen=True)
class _Schema:
    """A ready validator for one (apiVersion, kind), or why there is none."""

    validator: Any = None
    refusal: SchemaProblem | None = None


def _check(obj: Any) -> Iterator[SchemaProblem]:
    if not isinstance(obj, dict):
        yield SchemaProblem("", f"expected a mapping, got {_show(obj)}")
        return
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    for field, value in (("apiVersion", api_version), ("kind", kind)):
        if not isinstance(value, str) or not value:
            yield SchemaProblem(f"/{field}", f"must be a non-empty string, got {_show(value)}")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return
    schema = _schema(api_version, kind)
    if schema.refusal is not None:
        yield schema.refusal
        return
    for error in schema.validator.iter_errors(obj):
        yield from _problems(error)
    yield from _metadata_problems(obj, api_version.rpartition("/")[0], kind)


@functools.cache
def _schema(api_version: str, kind: str) -> _Schema:
    group, _, version = api_version.rpartition("/")
    if (group, kind) in CRD_FILES:
        return _crd_schema(group, version, kind)
    core = _core_schema(group, version, kind)
    if core is not None:
        return _Schema(_validator(core))
    return _refuse("", f"no schema for {api_version} {kind}; mlspec cannot check it")


def _refuse(path: str, message: str) -> _Schema:
    return _Schema(refusal=SchemaProblem(path, message))


def _crd_schema(group: str, version: str, kind: str) -> _Schema:
    versions = _crd_versions(group, kind)
    usable = [name for name, v in versions.items() if v["served"] and not v["deprecated"]]
    storage = [name for name in usable if versions[name]["storage"]] or usable
    use = f"; use {group}/{storage[0]}" if storage else ""
    chosen = versions.get(version)
    if chosen is None:
        return _refuse("/apiVersion", f"no schema for {group}/{version} {kind}{use}")
    if not chosen["served"]:
        return _refuse("/apiVersion", f"{group}/{version} {kind} is not served{use}")
    if chosen["deprecated"]:
        return _refuse("/apiVersion", f"{group}/{version} {kind} is deprecated{use}")
    schema = chosen["schema"]
    schema["properties"]["metadata"] = {"$ref": _OBJECT_META_REF}
    return _Schema(_validator(schema))


# The CRDs are shipped as upstream wrote them (YAML, with descriptions: 2 MB for the
# InferenceService). Parsing that YAML costs seconds per process, so their strict JSON
# Schemas are also shipped, precompiled, under crds/strict/ (descriptions dropped):
# regenerate them with `python -m mlspec.output.kubeschema` after updating a CRD; a test
# fails while they are stale.
STRICT_DIR = "strict"


def _strict_file(group: str, kind: str) -> str:
    return f"{group}_{kind}.json"


@functools.cache
def _crd_versions(group: str, kind: str) -> dict[str, dict[str, Any]]:
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


def _core_schema(group: str, version: str, kind: str) -> dict[str, Any] | None:
    """kubernetes-validate's strict schema for a core kind, if it has one for exactly
    this group/version/kind (its file names drop the group's domain, so check)."""
    prefix = f"{group.split('.')[0]}-" if group else ""
    text = _k8s_schema_text(f"{kind.lower()}-{prefix}{version}.json")
    if text is None:
        return None
    schema = cast(dict[str, Any], json.loads(text))
    wanted = {"group": group, "version": version, "kind": kind}
    return schema if wanted in schema.get("x-kubernetes-group-version-kind", []) else None


def _k8s_schema_text(name: str) -> str | None:
    file = _k8s_schema_dir() / name
    return file.read_text(encoding="utf-8") if file.is_file() else None


@functools.cache
def _k8s_schema_dir() -> Traversable:
    """kubernetes-validate's schemas for `KUBERNETES_VERSION`, found without importing the
    package when it is a plain directory (its ``__init__`` imports jsonschema: 0.2 s)."""
    folder = ("kubernetes-json-schema", f"v{KUBERNETES_VERSION}.0-local-strict")
    spec = importlib.util.find_spec("kubernetes_validate")
    for location in (spec and spec.submodule_search_locations) or ():
        if Path(location, *folder).is_dir():
            return Path(location, *folder)
    return resources.files("kubernetes_validate").joinpath(*folder)


@functools.lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    """Kubernetes definitions (``ObjectMeta``, ``PodSpec``...) that the schemas ``$ref``."""
    text = _k8s_schema_text("_definitions.json")
    if text is None:
        raise RuntimeError(f"kubernetes-validate has no schemas for {KUBERNETES_VERSION}")
    definitions = cast(dict[str, Any], json.loads(text))
    # Upstream accepts any string as a quantity; the API server does not.
    definitions["$defs"][_QUANTITY]["pattern"] = _QUANTITY_PATTERN
    return definitions


@functools.cache
def _go_search(pattern: str) -> Callable[[str], bool]:
    """Whether a string matches ``pattern`` (RE2), memoised: the same few values (the
    quantities, names) come back in object after object, and pyre2's ``search`` costs
    several microseconds of Python per call."""
    search = re2.compile(pattern).search
    return functools.lru_cache(maxsize=4096)(lambda value: search(value) is not None)


def _validator(schema: dict[str, Any]) -> Any:
    """The fast interpreter of Kubernetes' keyword subset; `jsonschema` for a schema that
    needs more."""
    try:
        return FastValidator(schema, _definitions()["$defs"], _go_search)
    except UnsupportedSchemaError:
        return _jsonschema_validator(schema)


def _jsonschema_validator(schema: dict[str, Any]) -> Any:
    """`jsonschema`'s validator with Go patterns (format checking off: formats are
    annotations in 2020-12). Imported here: no shipped schema needs it, and importing it
    costs a tenth of a second."""
    return _strict_validator_class()(schema, registry=_registry())


@functools.cache
def _strict_validator_class() -> Any:
    import jsonschema  # type: ignore[import-untyped]

    def go_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
        """The ``pattern`` keyword with Go (RE2) semantics, as the API server applies it."""
        if isinstance(instance, str) and not _go_search(pattern)(instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")

    return jsonschema.validators.extend(
        jsonschema.Draft202012Validator, validators={"pattern": go_pattern}
    )


@functools.lru_cache(maxsize=1)
def _registry() -> Registry[Any]:
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resource(
        _DEFINITIONS_ID, Resource.from_contents(_definitions())
    )
    return registry


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
        out["properties"].setdefault("metadata", {"$ref": _OBJECT_META_REF})


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


# --- metadata: what no JSON schema checks -----------------------------------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE_MAX = 63
_ANNOTATIONS_MAX_BYTES = 256 * 1024

_SUBDOMAIN = "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')"
_LABEL = "must be a lowercase RFC 1123 label (a-z, 0-9, '-')"


def _name_rule(pattern: re.Pattern[str], limit: int, why: str) -> Callable[[str], str | None]:
    def check(name: str) -> str | None:
        if not pattern.fullmatch(name):
            return why
        if len(name) > limit:
            return f"is {len(name)} characters long; the limit is {limit}"
        return None

    return check


def _path_segment(name: str) -> str | None:
    if name in (".", "..") or "/" in name or "%" in name:
        return "must not be '.' or '..' or contain '/' or '%'"
    return None


_check_subdomain = _name_rule(_DNS1123_SUBDOMAIN, 253, _SUBDOMAIN)
_check_dns_label = _name_rule(_DNS1123_LABEL, 63, _LABEL)

# (group, kind) -> name rule, where the API server or a webhook is stricter or looser than
# the default RFC 1123 subdomain.
_NAME_RULES: dict[tuple[str, str], Callable[[str], str | None]] = {
    ("", "Namespace"): _check_dns_label,
    ("", "Service"): _name_rule(_DNS1035_LABEL, 63, "must be an RFC 1035 label (a-z first)"),
    # Jobs get an 11-character suffix: the API server limits CronJob names to 52.
    ("batch", "CronJob"): _name_rule(_DNS1123_SUBDOMAIN, 52, _SUBDOMAIN),
    # KServe's webhook (inference_service_validation.go) rejects names with '.'.
    ("serving.kserve.io", "InferenceService"): _name_rule(
        _DNS1035_LABEL, 253, "must match [a-z]([-a-z0-9]*[a-z0-9])? (KServe webhook)"
    ),
    **{
        ("rbac.authorization.k8s.io", kind): _path_segment
        for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
}


def _metadata_problems(obj: dict[str, Any], group: str, kind: str) -> Iterator[SchemaProblem]:
    meta = obj.get("metadata")
    if meta is None:
        yield SchemaProblem("", "missing required field 'metadata'")
        return
    if not isinstance(meta, dict):
        return  # the schema already reported the type
    name = meta.get("name")
    if name is None:
        yield SchemaProblem("/metadata", "missing required field 'name'")
    elif isinstance(name, str):
        why = _NAME_RULES.get((group, kind), _check_subdomain)(name)
        if why:
            yield SchemaProblem("/metadata/name", f"{_show(name)} {why}")
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and (why := _check_dns_label(namespace)):
        yield SchemaProblem("/metadata/namespace", f"{_show(namespace)} {why}")
    yield from _label_problems(meta.get("labels"))
    yield from _annotation_problems(meta.get("annotations"))


def _label_problems(labels: Any) -> Iterator[SchemaProblem]:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        found = _label_syntax(key, value if isinstance(value, str) else "")
        if found:
            path = f"/metadata/labels/{_escape(key)}"
            yield from (SchemaProblem(path, message) for message in found)


@functools.lru_cache(maxsize=4096, typed=True)  # a few keys and values, on every object
def _label_syntax(key: Any, value: str) -> tuple[str, ...]:
    """What is wrong with one label (``value`` "" when it is not a string)."""
    found = []
    if why := _qualified_name_problem(key):
        found.append(f"label key {why}")
    if len(value) > _LABEL_VALUE_MAX:
        found.append(f"label value is {len(value)} characters; limit 63")
    elif value and not _QUALIFIED_NAME.fullmatch(value):
        found.append(
            f"label value {_show(value)} must be alphanumeric, '-', '_' or '.'"
            " inside, and start and end alphanumeric"
        )
    return tuple(found)


def _annotation_problems(annotations: Any) -> Iterator[SchemaProblem]:
    if not isinstance(annotations, dict):
        return
    size = 0
    for key, value in annotations.items():
        if why := _annotation_key_problem(key):
            yield SchemaProblem(f"/metadata/annotations/{_escape(key)}", f"annotation key {why}")
        size += len(str(key).encode()) + len(str(value).encode())
    if size > _ANNOTATIONS_MAX_BYTES:
        yield SchemaProblem("/metadata/annotations", f"total size {size} bytes exceeds 256 KiB")


@functools.lru_cache(maxsize=1024, typed=True)  # the same few keys, on every object
def _annotation_key_problem(key: Any) -> str | None:
    # The API server lower-cases annotation keys before checking them.
    return _qualified_name_problem(key.lower() if isinstance(key, str) else key)


def _qualified_name_problem(key: Any) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name (``[prefix/]name``), or None."""
    if not isinstance(key, str):
        return f"{_show(key)} is not a string"
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or _check_subdomain(prefix)):
        return f"{_show(key)}: prefix must be a lowercase RFC 1123 subdomain"
    if len(name) > _LABEL_VALUE_MAX:
        return f"{_show(key)}: name part is {len(name)} characters; limit 63"
    if not _QUALIFIED_NAME.fullmatch(name):
        return (
            f"{_show(key)}: name part must be alphanumeric, '-', '_' or '.' inside,"
            " and start and end alphanumeric"
        )
    return None


# --- turning jsonschema errors into short messages ----------------------------------------


def _problems(error: Any) -> Iterator[SchemaProblem]:
    path = list(error.absolute_path)
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "additionalProperties" and expected is False and isinstance(instance, dict):
        yield from _unknown_fields(path, instance, error.schema)
    elif keyword == "required" and isinstance(instance, dict):
        for field in expected:
            if field not in instance:
                yield SchemaProblem(_pointer(path), f"missing required field {field!r}")
    else:
        yield SchemaProblem(_pointer(path), _message(keyword, expected, instance, error))


def _unknown_fields(
    path: list[Any], instance: dict[str, Any], schema: dict[str, Any]
) -> Iterator[SchemaProblem]:
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    for key in instance:
        if key in known or any(_go_search(p)(key) for p in patterns):
            continue
        guess = _did_you_mean(str(key), known)
        hint = f" (did you mean {guess}?)" if guess else ""
        yield SchemaProblem(_pointer([*path, key]), f"unknown field{hint}")


def _did_you_mean(key: str, known: list[str]) -> str | None:
    by_case = {k.lower(): k for k in known}
    if key.lower() in by_case:
        return by_case[key.lower()]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return close[0] if close else None


def _message(keyword: str, expected: Any, instance: Any, error: Any) -> str:
    shown = _show(instance)
    if keyword == "type":
        return f"{shown} is not of type {_type_names(expected)}"
    if keyword in ("anyOf", "oneOf") and _only_types(expected):
        names = [t for sub in expected for t in _as_list(sub["type"])]
        return f"{shown} is not of type {_type_names(names)}"
    if keyword in ("anyOf", "oneOf"):
        return f"{shown} does not match any allowed form"
    if keyword == "enum":
        return f"{shown} is not one of {', '.join(_show(v) for v in expected)}"
    if keyword == "pattern" and expected == _QUANTITY_PATTERN:
        return f"{shown} is not a quantity (such as 500m, 2, 1.5Gi)"
    if keyword == "pattern":
        return f"{shown} does not match {expected!r}"
    if keyword in _BOUNDS:
        return f"{shown} {_BOUNDS[keyword]} {expected}"
    return _shorten(str(error.message), 160)


_BOUNDS = {
    "minimum": "is less than the minimum of",
    "maximum": "is greater than the maximum of",
    "exclusiveMinimum": "must be greater than",
    "exclusiveMaximum": "must be less than",
    "minLength": "is shorter than the minimum length",
    "maxLength": "is longer than the maximum length",
    "minItems": "has fewer items than the minimum of",
    "maxItems": "has more items than the maximum of",
    "minProperties": "has fewer fields than the minimum of",
    "maxProperties": "has more fields than the maximum of",
}


def _only_types(subschemas: Any) -> bool:
    return isinstance(subschemas, list) and all(
        isinstance(sub, dict) and set(sub) == {"type"} for sub in subschemas
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _type_names(expected: Any) -> str:
    names = [t for t in _as_list(expected) if t != "null"] or ["null"]
    return " or ".join(repr(t) for t in dict.fromkeys(names))


def _show(value: Any) -> str:
    """A short rendering: strings quoted as in the brief, YAML words for true/null."""
    if isinstance(value, str):
        return _shorten(repr(value), 60)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, dict | list):
        return _shorten(json.dumps(value, default=str, sort_keys=True), 60)
    return _shorten(repr(value), 60)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(segment: Any) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def _pointer(path: Iterable[Any]) -> str:
    return "".join(f"/{_escape(segment)}" for segment in path)


_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


def _dotted(pointer: str) -> str:
    out = ""
    for raw in pointer.split("/")[1:]:
        segment = raw.replace("~1", "/").replace("~0", "~")
        if segment.isdigit():
            out += f"[{segment}]"
        elif _PLAIN_KEY.fullmatch(segment):
            out += f".{segment}" if out else segment
        else:
            out += f"[{json.dumps(segment)}]"
    return out


def _regenerate() -> None:
    """Write crds/strict/*.json from the shipped CRDs (run after updating a CRD)."""
    target = Path(__file__).resolve().parent.parent / "crds" / STRICT_DIR
    target.mkdir(exist_ok=True)
    for name, content in compiled_crd_files().items():
        (target / name).write_text(content, encoding="utf-8")


if __name__ == "__main__":
    _regenerate()
