"""Flux objects: the platform's sync, and one fenced sync per tenant.

`flux/` holds the bootstrap (a GitRepository and the platform Kustomization in
flux-system). The platform part then creates, per tenant, a ServiceAccount with
`admin` rights in the tenant's namespace only, a GitRepository and a Kustomization
in that namespace which impersonates it (`serviceAccountName`), targets the
namespace, prunes, and depends on the platform Kustomization.
"""

from __future__ import annotations

from typing import Any

from mlspec.compilers.base import Artifact, CompileContext, tenant_path
from mlspec.gitops.argocd import repo_path

NAMESPACE = "flux-system"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
RECONCILER = "flux-reconciler"


def engine_objects(ctx: CompileContext) -> list[Artifact]:
    platform = f"{ctx.env}-platform"
    objects = [
        Artifact(f"flux/gitrepository-{platform}.yaml", _git_repository(ctx, platform), "/gitops"),
        Artifact(f"flux/kustomization-{platform}.yaml", _platform_sync(ctx, platform), "/gitops"),
    ]
    for tenant in sorted(ctx.platform.tenants):
        if ctx.wants(f"/tenants/{tenant}"):
            objects += _tenant_objects(ctx, tenant, platform)
    return objects


def _metadata(ctx: CompileContext, name: str, namespace: str, tenant: str | None) -> dict[str, Any]:
    source = f"/tenants/{tenant}" if tenant else "/gitops"
    return {"name": name, "namespace": namespace, **ctx.provenance(source, tenant)}


def _git_repository(
    ctx: CompileContext, name: str, namespace: str = NAMESPACE, tenant: str | None = None
) -> dict[str, Any]:
    gitops = ctx.platform.gitops
    return {
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": _metadata(ctx, name, namespace, tenant),
        "spec": {"interval": "1m", "url": gitops.repo_url, "ref": {"branch": gitops.branch}},
    }


def _platform_sync(ctx: CompileContext, name: str) -> dict[str, Any]:
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": _metadata(ctx, name, NAMESPACE, None),
        "spec": {
            "interval": "10m",
            "path": "./" + repo_path(ctx, "platform"),
            "prune": True,
            "wait": True,
            "sourceRef": {"kind": "GitRepository", "name": name},
        },
    }


def _tenant_objects(ctx: CompileContext, tenant: str, platform: str) -> list[Artifact]:
    name = f"{ctx.env}-{tenant}"
    source = f"/tenants/{tenant}"
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(ctx, RECONCILER, tenant, tenant),
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(ctx, RECONCILER, tenant, tenant),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": RECONCILER, "namespace": tenant}],
    }
    sync = {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": _metadata(ctx, name, tenant, tenant),
        "spec": {
            "interval": "10m",
            "path": "./" + repo_path(ctx, "tenants", tenant),
            "prune": True,
            "targetNamespace": tenant,
            "serviceAccountName": RECONCILER,
            "sourceRef": {"kind": "GitRepository", "name": name},
            "dependsOn": [{"name": platform, "namespace": NAMESPACE}],
        },
    }
    return [
        Artifact("platform/" + tenant_path(tenant, "ServiceAccount", RECONCILER), account, source),
        Artifact("platform/" + tenant_path(tenant, "RoleBinding", RECONCILER), binding, source),
        Artifact(
            "platform/" + tenant_path(tenant, "GitRepository", name),
            _git_repository(ctx, name, tenant, tenant),
            source,
        ),
        Artifact("platform/" + tenant_path(tenant, "Kustomization", name), sync, source),
    ]
