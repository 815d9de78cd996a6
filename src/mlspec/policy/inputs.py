"""The input document the policies see: one per environment. A public contract, described
in policies/README.md; change it only by adding fields (or bump ``apiVersion``).

    apiVersion   "mlspec.dev/policy-input/v1"
    environment  {name, cluster}
    platform     the Platform object: spec = metadata, gitops, registry, scheduling,
                 serving, monitoring
    gpuPools     {name: GpuPool object}
    tenants      [Tenant object + pipelines, models, deployments, monitors:
                  {name: object}], sorted by name -- each object under its tenant
    analysis     capacity, quota and cost figures (mlspec.analysis.figures), when present

Every object is ``{kind, name, tenant, source: {pointer, file, line, col}, spec}``:
``tenant`` is left out for the platform and GPU pools, ``source`` is where the object
is written (its key's line; for a pipeline from a template, its own key), and ``spec`` is
the validated section as the spec writes it: camelCase keys, quantities in their
canonical spelling ("64", "256Gi", "4h"), environment patch applied, templates
expanded, absent optional fields left out (never null).

Objects are grouped under their tenant because references never cross tenants (MLS602,
except deployments of shared models), and tenants are a list, for rego-cpp's sake: it
finds an object key in time linear in the object's size (``input.tenants[p.tenant]``
for every pipeline would be quadratic in the number of tenants), and ``some t in x``
copies each element, while indexing a list (``input.tenants[i]`` for ``i`` in
``numbers.range``) does not. See policies/README.md.

Top-level keys that no policy module names (``input.analysis``, ``input.gpuPools``...)
are left out, when every module names the keys it reads: building and handing over the
input is most of the cost of a policy run.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mlspec.spec.frontend import EnvironmentSpec
from mlspec.spec.source import SourceMap, escape_token

API_VERSION = "mlspec.dev/policy-input/v1"
OWNED = (  # collection, kind: the objects that belong to a tenant
    ("pipelines", "Pipeline"),
    ("models", "Model"),
    ("deployments", "Deployment"),
    ("monitors", "Monitor"),
)
PLATFORM_SECTIONS = ("metadata", "gitops", "registry", "scheduling", "serving", "monitoring")


def build_input(env: EnvironmentSpec, keys: Collection[str] | None = None) -> dict[str, Any]:
    """The input document of ``env``; only the top-level ``keys`` when given."""
    data = env.platform.model_dump(mode="json", by_alias=True, exclude_none=True)
    environment: dict[str, Any] = {"name": env.name}
    if env.cluster is not None:
        environment["cluster"] = env.cluster
    sources = env.sources
    platform_spec = {key: data[key] for key in PLATFORM_SECTIONS if key in data}

    def wanted(key: str) -> bool:
        return keys is None or key in keys

    document: dict[str, Any] = {"apiVersion": API_VERSION, "environment": environment}
    if wanted("platform"):
        name = data["metadata"]["name"]
        document["platform"] = _object("Platform", name, None, "", platform_spec, sources)
    if wanted("gpuPools"):
        document["gpuPools"] = _objects("gpuPools", "GpuPool", data, sources)
    if wanted("tenants"):
        document["tenants"] = _tenants(data, sources)
    figures = analysis_figures(env) if wanted("analysis") else None
    if figures is not None:
        document["analysis"] = figures
    return document


def _tenants(data: dict[str, Any], sources: SourceMap) -> list[dict[str, Any]]:
    tenants = _objects("tenants", "Tenant", data, sources)
    for tenant in tenants.values():
        for collection, _ in OWNED:
            tenant[collection] = {}
    for collection, kind in OWNED:
        for name, obj in _objects(collection, kind, data, sources).items():
            tenants[obj["tenant"]][collection][name] = obj
    return [tenants[name] for name in sorted(tenants)]


def _objects(
    collection: str, kind: str, data: dict[str, Any], sources: SourceMap
) -> dict[str, Any]:
    section: dict[str, Any] = data.get(collection, {})
    objects: dict[str, Any] = {}
    for name, spec in section.items():
        tenant = name if kind == "Tenant" else spec.get("tenant")
        pointer = f"/{collection}/{escape_token(name)}"
        objects[name] = _object(kind, name, tenant, pointer, spec, sources)
    return objects


def _object(
    kind: str,
    name: str,
    tenant: str | None,
    pointer: str,
    spec: dict[str, Any],
    sources: SourceMap,
) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": kind, "name": name}
    if tenant is not None:
        obj["tenant"] = tenant
    source: dict[str, Any] = {"pointer": pointer}
    location = sources.key_location(pointer)
    if location is not None:
        source.update(file=location.file, line=location.line, col=location.col)
    obj["source"] = source
    obj["spec"] = spec
    return obj


def analysis_figures(env: EnvironmentSpec) -> Any | None:
    """`mlspec.analysis.figures(platform)`, when that module provides it."""
    try:
        from mlspec.analysis import figures
    except ImportError:
        return None
    return figures(env.platform)
