"""The layout of one environment's tree, and the objects that make it syncable.

    <env>/
      kustomization.yaml          platform + tenants
      platform/                   synced with platform rights (cluster-scoped objects,
        <kind>-<name>.yaml        quotas and guardrails of every tenant)
        tenants/<tenant>/...      a tenant's Namespace, ResourceQuota, LimitRange,
                                  RoleBindings, NetworkPolicy, LocalQueue
      tenants/<tenant>/           synced with the tenant's rights only (workloads)
      argocd/ or flux/            bootstrap: the engine objects that sync the above

Compilers say where an object belongs logically (`tenants/<t>/...`); this stage
moves a tenant's guardrails into the platform part, so that a tenant's own sync
(and its Argo CD project) can never touch its quota, network or access objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from mlspec.compilers.base import Artifact, CompileContext
from mlspec.gitops import argocd, flux

GUARDRAIL_KINDS = frozenset(
    {
        "LimitRange",
        "LocalQueue",
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    }
)
KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
KUSTOMIZATION = "kustomization.yaml"
ENGINE_DIRS = ("argocd", "flux")
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
_EARLY_WAVES = {"Namespace": "-2"}
_CLUSTER_SETUP_GROUPS = ("kueue.x-k8s.io/", "scheduling.k8s.io/", "rbac.authorization.k8s.io/")


def place(ctx: CompileContext, artifact: Artifact) -> Artifact:
    """A compiler's artifact at its final path (with its sync wave under Argo CD)."""
    placed = _place(artifact)
    return _with_sync_wave(placed) if ctx.platform.gitops.engine == "argocd" else placed


def engine_artifacts(ctx: CompileContext) -> list[Artifact]:
    """The engine objects that sync the environment's tree."""
    if ctx.platform.gitops.engine == "argocd":
        return argocd.engine_objects(ctx)
    return flux.engine_objects(ctx)


def tenant_dirs(ctx: CompileContext) -> list[str]:
    """The directories an engine syncs by path: each gets a kustomization, even empty."""
    return [f"tenants/{tenant}" for tenant in ctx.platform.tenants]


def is_kubernetes_object(obj: dict[str, Any]) -> bool:
    """mlspec's own documents (registrations, kustomizations) are not cluster objects."""
    api = str(obj.get("apiVersion", ""))
    return not api.startswith(("mlspec.dev/", "kustomize.config.k8s.io/"))


def _place(artifact: Artifact) -> Artifact:
    parts = artifact.path.split("/")
    if parts[0] == "tenants" and artifact.object.get("kind") in GUARDRAIL_KINDS:
        return replace(artifact, path="platform/" + artifact.path)
    return artifact


def _with_sync_wave(artifact: Artifact) -> Artifact:
    """Namespaces first, then cluster setup and guardrails, then workloads (wave 0)."""
    obj = artifact.object
    kind, api = obj.get("kind", ""), str(obj.get("apiVersion", ""))
    if not is_kubernetes_object(obj):
        return artifact
    if kind in _EARLY_WAVES:
        wave = _EARLY_WAVES[kind]
    elif kind in GUARDRAIL_KINDS or api.startswith(_CLUSTER_SETUP_GROUPS):
        wave = "-1"
    else:
        return artifact
    metadata = dict(obj.get("metadata", {}))
    metadata["annotations"] = {**metadata.get("annotations", {}), SYNC_WAVE: wave}
    return replace(artifact, object={**obj, "metadata": metadata})


def listings(objects: Iterable[str], required: Iterable[str] = ()) -> list[Artifact]:
    """A kustomization.yaml in every directory that holds objects (``objects``: the
    paths of an environment's Kubernetes objects), listing them sorted.

    A directory lists its object files and the subdirectories that have a
    kustomization of their own; the environment root lists `platform` and `tenants`
    but not the engine's bootstrap directory. ``required`` directories get one even
    when empty, because an engine syncs them by path.
    """
    files: dict[str, list[str]] = {directory: [] for directory in required}
    for path in objects:
        directory, _, name = path.rpartition("/")
        files.setdefault(directory, []).append(name)
    children: dict[str, set[str]] = {}
    for directory in list(files):
        while directory:
            parent, _, name = directory.rpartition("/")
            children.setdefault(parent, set()).add(name)
            directory = parent
    directories = set(files) | set(children)
    return [
        kustomization(d, files.get(d, []), sorted(children.get(d, ()))) for d in sorted(directories)
    ]


def kustomization(directory: str, names: list[str], children: list[str]) -> Artifact:
    """The listing of ``directory``: its object files and subdirectories, sorted."""
    prefix = f"{directory}/" if directory else ""
    if not directory:
        children = [c for c in children if c not in ENGINE_DIRS]
    document = {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "resources": sorted(names + children),
    }
    return Artifact(prefix + KUSTOMIZATION, document, "")
