"""Argo CD objects: an AppProject and an Application per tenant, plus the platform's.

Tenant projects are fenced: one destination (the tenant's namespace on the
environment's cluster), no cluster-scoped resources, and the guardrail kinds
(quota, limits, network, access, queues) blacklisted, so only the platform
Application (its own project) can change them. Applications carry sync waves:
the platform's (wave 0) before the tenants' (wave 1).
"""

from __future__ import annotations

from typing import Any

from mlspec.compilers.base import Artifact, CompileContext

NAMESPACE = "argocd"
API = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
TENANT_BLACKLIST = (
    ("", "LimitRange"),
    ("", "ResourceQuota"),
    ("kueue.x-k8s.io", "LocalQueue"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
)


def engine_objects(ctx: CompileContext) -> list[Artifact]:
    objects = [
        _artifact(f"argocd/appproject-{_name(ctx, 'platform')}.yaml", _platform_project(ctx)),
        _artifact(f"argocd/application-{_name(ctx, 'platform')}.yaml", _platform_app(ctx)),
    ]
    for tenant in sorted(ctx.platform.tenants):
        source = f"/tenants/{tenant}"
        if not ctx.wants(source):
            continue
        name = _name(ctx, tenant)
        objects.append(
            _artifact(f"argocd/appproject-{name}.yaml", _tenant_project(ctx, tenant), source)
        )
        objects.append(
            _artifact(f"argocd/application-{name}.yaml", _tenant_app(ctx, tenant), source)
        )
    return objects


def _name(ctx: CompileContext, part: str) -> str:
    return f"{ctx.env}-{part}"


def _artifact(path: str, obj: dict[str, Any], source: str = "/gitops") -> Artifact:
    return Artifact(path, obj, source)


def _metadata(
    ctx: CompileContext, name: str, source: str, tenant: str | None, wave: str | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": NAMESPACE,
        **ctx.provenance(source, tenant),
    }
    if wave is not None:
        metadata["annotations"][SYNC_WAVE] = wave
    return metadata


def destination(ctx: CompileContext, namespace: str | None = None) -> dict[str, str]:
    target = {"name": ctx.cluster} if ctx.cluster else {"server": IN_CLUSTER}
    return {**target, "namespace": namespace} if namespace else target


def repo_path(ctx: CompileContext, *parts: str) -> str:
    prefix = ctx.platform.gitops.path
    return "/".join(p for p in (prefix, ctx.env, *parts) if p)


def _source(ctx: CompileContext, *parts: str) -> dict[str, str]:
    gitops = ctx.platform.gitops
    return {
        "repoURL": gitops.repo_url,
        "targetRevision": gitops.branch,
        "path": repo_path(ctx, *parts),
    }


_SYNC_POLICY = {
    "automated": {"prune": True, "selfHeal": True},
    "syncOptions": ["ServerSideApply=true"],
}


def _platform_project(ctx: CompileContext) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "AppProject",
        "metadata": _metadata(ctx, _name(ctx, "platform"), "/gitops", None),
        "spec": {
            "description": f"mlspec platform objects of {ctx.platform.metadata.name} ({ctx.env})",
            "sourceRepos": [ctx.platform.gitops.repo_url],
            "destinations": [destination(ctx, "*")],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        },
    }


def _platform_app(ctx: CompileContext) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Application",
        "metadata": _metadata(ctx, _name(ctx, "platform"), "/gitops", None, wave="0"),
        "spec": {
            "project": _name(ctx, "platform"),
            "source": _source(ctx, "platform"),
            "destination": destination(ctx),
            "syncPolicy": _SYNC_POLICY,
        },
    }


def _tenant_project(ctx: CompileContext, tenant: str) -> dict[str, Any]:
    display = ctx.platform.tenants[tenant].display_name
    return {
        "apiVersion": API,
        "kind": "AppProject",
        "metadata": _metadata(ctx, _name(ctx, tenant), f"/tenants/{tenant}", tenant),
        "spec": {
            "description": f"{display} (mlspec tenant {tenant}, {ctx.env})",
            "sourceRepos": [ctx.platform.gitops.repo_url],
            "destinations": [destination(ctx, tenant)],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": [{"group": g, "kind": k} for g, k in TENANT_BLACKLIST],
        },
    }


def _tenant_app(ctx: CompileContext, tenant: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Application",
        "metadata": _metadata(ctx, _name(ctx, tenant), f"/tenants/{tenant}", tenant, wave="1"),
        "spec": {
            "project": _name(ctx, tenant),
            "source": _source(ctx, "tenants", tenant),
            "destination": destination(ctx, tenant),
            "syncPolicy": _SYNC_POLICY,
        },
    }
