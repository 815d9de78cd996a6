"""Compiler `tenancy`: namespaces, quotas, defaults, RBAC and network isolation per tenant.

Also the checks of the whole tenancy output: every object of the compiled reference tree
validates strictly, and real `kubectl kustomize` builds each environment's output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mlspec.api import compile_spec
from mlspec.cli import main
from mlspec.compilers.base import CompileContext, CompileResult
from mlspec.compilers.tenancy import TenancyCompiler
from mlspec.output.kubeschema import check_object
from mlspec.spec.frontend import SpecFile, validate_spec
from mlspec.spec.model import Platform
from tests.conftest import EXAMPLE

MY_COMPILERS = ("kueue", "nvidia", "tenancy")
MY_KINDS = {
    "ClusterQueue",
    "ConfigMap",
    "LimitRange",
    "LocalQueue",
    "Namespace",
    "NetworkPolicy",
    "ResourceFlavor",
    "ResourceQuota",
    "RoleBinding",
    "WorkloadPriorityClass",
}


def compile_text(text: str, env: str = "prod") -> tuple[Platform, CompileResult]:
    validated = validate_spec(SpecFile("platform.yaml", "platform.yaml", text.encode()))
    assert validated.ok, validated.diagnostics
    spec = validated.environments[env]
    ctx = CompileContext(env, spec.cluster, spec.platform, spec.sources, "platform.yaml")
    return spec.platform, TenancyCompiler().compile(ctx)


def objects(result: CompileResult, tenant: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (a.object["kind"], a.object["metadata"]["name"]): a.object
        for a in result.artifacts
        if a.path.startswith(f"tenants/{tenant}/")
    }


@pytest.fixture(scope="module")
def reference() -> tuple[Platform, CompileResult]:
    return compile_text(EXAMPLE.read_text(encoding="utf-8"))


def test_every_tenant_gets_its_namespace_quota_defaults_access_and_isolation(
    reference: tuple[Platform, CompileResult],
) -> None:
    _, result = reference
    assert result.diagnostics == []
    assert sorted(objects(result, "search")) == [
        ("LimitRange", "tenant-defaults"),
        ("Namespace", "search"),
        ("NetworkPolicy", "allow-from-monitoring"),
        ("NetworkPolicy", "allow-from-serving-ingress"),
        ("NetworkPolicy", "allow-same-namespace"),
        ("NetworkPolicy", "default-deny-ingress"),
        ("ResourceQuota", "tenant-quota"),
        ("RoleBinding", "tenant-admins"),
        ("RoleBinding", "tenant-editors"),
    ]
    for (kind, _), obj in objects(result, "search").items():
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "mlspec"
        assert labels["mlspec.dev/tenant"] == "search" and labels["org"] == "acme"
        assert obj["metadata"]["annotations"]["mlspec.dev/source"].startswith("platform.yaml#/")
        assert kind == "Namespace" or obj["metadata"]["namespace"] == "search"


def test_resource_quota_numbers_equal_the_spec(reference: tuple[Platform, CompileResult]) -> None:
    platform, result = reference
    for name, tenant in platform.tenants.items():
        hard = objects(result, name)["ResourceQuota", "tenant-quota"]["spec"]["hard"]
        assert hard["requests.cpu"] == tenant.quota.cpu.canonical
        assert "limits.cpu" not in hard  # a default cpu limit would reject bigger requests
        assert hard["requests.memory"] == hard["limits.memory"] == tenant.quota.memory.canonical
    fraud = objects(result, "fraud")["ResourceQuota", "tenant-quota"]["spec"]["hard"]
    search = objects(result, "search")["ResourceQuota", "tenant-quota"]["spec"]["hard"]
    assert (fraud["requests.cpu"], fraud["requests.memory"]) == ("64", "256Gi")
    # a100-80gb 8 guaranteed + 8 borrowable, l4-shared 4 shares: one resource name, summed.
    assert fraud["requests.nvidia.com/gpu"] == "20"
    assert fraud["requests.nvidia.com/mig-1g.10gb"] == "0"
    assert search["requests.nvidia.com/mig-1g.10gb"] == "14"
    assert search["requests.nvidia.com/gpu"] == "0"
    assert not any(key.startswith("limits.nvidia.com") for key in fraud)


def test_storage_quota_is_set_only_when_the_spec_sets_it(
    reference: tuple[Platform, CompileResult],
) -> None:
    _, result = reference
    assert (
        "requests.storage"
        not in objects(result, "fraud")["ResourceQuota", "tenant-quota"]["spec"]["hard"]
    )
    text = EXAMPLE.read_text().replace(
        "      memory: 256Gi\n", "      memory: 256Gi\n      storage: 2Ti\n"
    )
    _, patched = compile_text(text)
    hard = objects(patched, "fraud")["ResourceQuota", "tenant-quota"]["spec"]["hard"]
    assert hard["requests.storage"] == "2Ti"


def test_limit_range_defaults_memory_limits_and_requests_but_no_cpu_limit(
    reference: tuple[Platform, CompileResult],
) -> None:
    (limit,) = objects(reference[1], "fraud")["LimitRange", "tenant-defaults"]["spec"]["limits"]
    assert limit == {
        "type": "Container",
        "default": {"memory": "1Gi"},
        "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
    }


def test_limit_range_defaults_never_exceed_a_small_quota() -> None:
    text = EXAMPLE.read_text().replace(
        "cpu: 32\n      memory: 128Gi", "cpu: 50m\n      memory: 512Mi"
    )
    _, result = compile_text(text)
    (limit,) = objects(result, "search")["LimitRange", "tenant-defaults"]["spec"]["limits"]
    assert limit["default"] == {"memory": "512Mi"}
    assert limit["defaultRequest"] == {"cpu": "50m", "memory": "256Mi"}


def test_access_groups_and_emails_bind_to_admin_edit_and_view(
    reference: tuple[Platform, CompileResult],
) -> None:
    text = EXAMPLE.read_text().replace(
        "viewers: [group:risk-analysts]", "viewers: [group:risk-analysts, carol@acme.example]"
    )
    _, result = compile_text(text)
    fraud = objects(result, "fraud")
    roles = {
        name: obj["roleRef"]["name"] for (kind, name), obj in fraud.items() if kind == "RoleBinding"
    }
    assert roles == {"tenant-admins": "admin", "tenant-editors": "edit", "tenant-viewers": "view"}
    group = "rbac.authorization.k8s.io"
    assert fraud["RoleBinding", "tenant-viewers"]["subjects"] == [
        {"apiGroup": group, "kind": "Group", "name": "risk-analysts"},
        {"apiGroup": group, "kind": "User", "name": "carol@acme.example"},
    ]
    assert fraud["RoleBinding", "tenant-admins"]["roleRef"] == {
        "apiGroup": group,
        "kind": "ClusterRole",
        "name": "admin",
    }
    assert ("RoleBinding", "tenant-viewers") not in objects(reference[1], "search")


def _peers(result: CompileResult, tenant: str) -> dict[str, list[dict[str, Any]]]:
    return {
        name: obj["spec"].get("ingress", [])
        for (kind, name), obj in objects(result, tenant).items()
        if kind == "NetworkPolicy"
    }


def test_ingress_is_denied_except_from_the_namespace_monitoring_and_serving_ingress(
    reference: tuple[Platform, CompileResult],
) -> None:
    _, result = reference
    peers = _peers(result, "fraud")
    deny = objects(result, "fraud")["NetworkPolicy", "default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    selector = "kubernetes.io/metadata.name"
    assert peers["allow-same-namespace"] == [{"from": [{"podSelector": {}}]}]
    assert peers["allow-from-monitoring"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {selector: "monitoring"}}}]}
    ]
    assert peers["allow-from-serving-ingress"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {selector: "istio-system"}}}]}
    ]
    assert not any(name.startswith("allow-from-tenant-") for name in peers)


def test_allow_from_opens_a_tenant_to_the_named_tenants_only() -> None:
    text = EXAMPLE.read_text().replace(
        "      viewers: [group:risk-analysts]\n",
        "      viewers: [group:risk-analysts]\n    network:\n      allowFrom: [search, search]\n",
    )
    text = text.replace("registry:\n", "monitoring: {namespace: prometheus}\nregistry:\n", 1)
    _, result = compile_text(text)
    fraud, search = _peers(result, "fraud"), _peers(result, "search")
    assert fraud["allow-from-tenant-search"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "search"}}}
            ]
        }
    ]
    assert fraud["allow-from-monitoring"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "prometheus"
    }
    assert not any(name.startswith("allow-from-tenant-") for name in search)


def test_knative_mode_also_lets_the_activator_in() -> None:
    text = EXAMPLE.read_text().replace("registry:\n", "serving: {mode: knative}\nregistry:\n", 1)
    _, result = compile_text(text)
    assert _peers(result, "search")["allow-from-knative-serving"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "knative-serving"}
                    }
                }
            ]
        }
    ]


def test_namespace_keeps_cost_center_and_display_name(
    reference: tuple[Platform, CompileResult],
) -> None:
    namespace = objects(reference[1], "fraud")["Namespace", "fraud"]
    assert "namespace" not in namespace["metadata"]
    assert namespace["metadata"]["labels"]["mlspec.dev/cost-center"] == "CC-1042"
    assert namespace["metadata"]["annotations"]["mlspec.dev/display-name"] == "Fraud Detection"


# --- the whole output ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compiled_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tree") / "out"
    result = CliRunner().invoke(main, ["compile", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_every_object_of_the_compiled_reference_tree_validates_strictly(
    compiled_tree: Path,
) -> None:
    kinds: set[str] = set()
    problems: dict[str, list[str]] = {}
    for path in sorted(compiled_tree.rglob("*.yaml")):
        obj = yaml.safe_load(path.read_text(encoding="utf-8"))
        if str(obj.get("apiVersion", "")).startswith(("kustomize.config.k8s.io/", "mlspec.dev/")):
            continue
        kinds.add(obj["kind"])
        found = [str(problem) for problem in check_object(obj)]
        if found:
            problems[str(path.relative_to(compiled_tree))] = found
    assert problems == {}
    assert kinds >= MY_KINDS


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_kubectl_kustomize_builds_the_tenancy_output(
    env: str, kubectl: Path, tmp_path: Path
) -> None:
    compiled = compile_spec(SpecFile.read(EXAMPLE), [env], MY_COMPILERS)
    assert compiled.ok, compiled.diagnostics
    listed, expected = [], set()
    for path, content in sorted(compiled.files.items()):
        relative = path.removeprefix(f"{env}/")
        if relative == path or relative.endswith("kustomization.yaml"):
            continue
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(content)
        listed.append(relative)
        obj = yaml.safe_load(content)
        expected.add((obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": listed,
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    built = subprocess.run(
        [str(kubectl), "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    documents = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    found = {
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in documents
    }
    assert len(documents) == len(listed)
    assert found == expected
    assert {kind for kind, _, _ in found} >= MY_KINDS
