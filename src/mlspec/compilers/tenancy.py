"""Compiler `tenancy`: a tenant becomes a namespace on the cluster.

For now one object per tenant, the `Namespace`; quotas, RBAC, network policies
and Kueue queues join it here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mlspec.compilers.base import Artifact, CompileContext, CompileResult, tenant_path
from mlspec.spec.model import Tenant
from mlspec.spec.names import label_value_problem

LABEL_COST_CENTER = "mlspec.dev/cost-center"
ANNOTATION_DISPLAY_NAME = "mlspec.dev/display-name"


class TenancyCompiler:
    name: ClassVar[str] = "tenancy"

    def compile(self, ctx: CompileContext) -> CompileResult:
        result = CompileResult()
        for name, tenant in sorted(ctx.platform.tenants.items()):
            source = f"/tenants/{name}"
            namespace = namespace_object(ctx, name, tenant, source)
            result.artifacts.append(
                Artifact(tenant_path(name, "Namespace", name), namespace, source)
            )
        return result


def namespace_object(ctx: CompileContext, name: str, tenant: Tenant, source: str) -> dict[str, Any]:
    metadata = ctx.provenance(source, tenant=name)
    metadata["labels"] = {**ctx.platform.metadata.labels, **metadata["labels"]}
    if label_value_problem(tenant.cost_center) is None:
        metadata["labels"][LABEL_COST_CENTER] = tenant.cost_center
    metadata["annotations"][ANNOTATION_DISPLAY_NAME] = tenant.display_name
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **metadata},
    }
