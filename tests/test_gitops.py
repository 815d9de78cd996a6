"""The GitOps tree: layout, kustomizations, engines, ownership and all-or-nothing writes."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlspec.cli import main
from mlspec.output import swap
from mlspec.output.emit import dump_yaml
from mlspec.spec.loader import load_text
from tests.conftest import EXAMPLE, snapshot


def _spec(tmp_path: Path, edit: Any = None, variant: str = "base") -> Path:
    """The reference spec, optionally edited as data, written back with our emitter.

    Always named platform.yaml (provenance annotations carry the file name)."""
    data = load_text(EXAMPLE.read_text(), "platform.yaml").data
    assert data is not None
    if edit is not None:
        edit(data)
    path = tmp_path / variant / "platform.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(dump_yaml(data))
    return path


def _compile(spec: Path, out: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["compile", str(spec), "--out", str(out), *args])


def _flux(data: dict[str, Any]) -> None:
    data["gitops"]["engine"] = "flux"


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_every_kustomization_builds_with_real_kubectl(
    engine: str, tmp_path: Path, kubectl: Path
) -> None:
    spec = _spec(tmp_path, _flux if engine == "flux" else None)
    out = tmp_path / "out"
    result = _compile(spec, out)
    assert result.exit_code == 0, result.output
    directories = sorted(p.parent for p in out.rglob("kustomization.yaml"))
    assert out / "prod" in directories and out / "staging" / engine in directories
    for directory in directories:
        built = subprocess.run(
            [str(kubectl), "kustomize", str(directory)], capture_output=True, text=True
        )
        assert built.returncode == 0, f"{directory}: {built.stderr}"


def test_tenant_guardrails_live_in_the_platform_part(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _compile(EXAMPLE, out).exit_code == 0
    tenant_files = [p.name for p in (out / "prod" / "tenants" / "fraud").iterdir()]
    assert "namespace-fraud.yaml" not in tenant_files
    assert (out / "prod" / "platform" / "tenants" / "fraud" / "namespace-fraud.yaml").exists()


def test_argocd_tenant_project_is_fenced_to_its_namespace(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _compile(EXAMPLE, out).exit_code == 0
    project = load_text((out / "prod/argocd/appproject-prod-fraud.yaml").read_text(), "p").data
    assert project is not None
    spec = project["spec"]
    assert spec["destinations"] == [{"name": "prod-eu", "namespace": "fraud"}]
    assert spec["clusterResourceWhitelist"] == []
    blacklisted = {entry["kind"] for entry in spec["namespaceResourceBlacklist"]}
    assert {"ResourceQuota", "LimitRange", "NetworkPolicy", "RoleBinding"} <= blacklisted
    app = load_text((out / "prod/argocd/application-prod-fraud.yaml").read_text(), "a").data
    assert app is not None
    assert app["spec"]["source"]["path"] == "prod/tenants/fraud"
    assert app["spec"]["project"] == "prod-fraud"


def test_flux_tenant_sync_impersonates_a_tenant_account(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _compile(_spec(tmp_path, _flux), out).exit_code == 0
    path = out / "prod/platform/tenants/search/kustomization-prod-search.yaml"
    sync = load_text(path.read_text(), "k").data
    assert sync is not None
    assert sync["metadata"]["namespace"] == "search"
    assert sync["spec"]["serviceAccountName"] == "flux-reconciler"
    assert sync["spec"]["targetNamespace"] == "search"
    assert sync["spec"]["prune"] is True
    assert sync["spec"]["dependsOn"] == [{"name": "prod-platform", "namespace": "flux-system"}]


def _without_search(data: dict[str, Any]) -> None:
    for section in ("tenants", "pipelines", "models", "deployments", "monitors"):
        data[section] = {
            name: value
            for name, value in data[section].items()
            if name != "search" and value.get("tenant") != "search"
        }


def test_removing_a_tenant_removes_exactly_its_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _compile(_spec(tmp_path), out).exit_code == 0
    before = snapshot(out)
    result = _compile(_spec(tmp_path, _without_search, "smaller"), out)
    assert result.exit_code == 0, result.output
    after = snapshot(out)
    gone = sorted(set(before) - set(after))
    assert gone
    for path in gone:  # its own objects, or priority classes only it used
        content = before[path][1].decode()
        assert "search" in path or "PriorityClass" in content, path
    changed = [p for p in after if p in before and before[p] != after[p]]
    assert all(p == "manifest.json" or "kustomization" in p or "registr" in p for p in changed), (
        changed
    )


def test_foreign_files_survive_a_compile(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _compile(EXAMPLE, out).exit_code == 0
    (out / "README.md").write_text("hand-written\n")
    (out / "prod" / "notes.txt").write_text("keep me\n")
    assert _compile(_spec(tmp_path, _without_search, "smaller"), out).exit_code == 0
    assert (out / "README.md").read_text() == "hand-written\n"
    assert (out / "prod" / "notes.txt").read_text() == "keep me\n"


def test_a_symlinked_directory_in_the_output_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "prod").symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(out)
    result = _compile(EXAMPLE, out)
    assert result.exit_code == 2
    assert "does not own" in result.output or "symlink" in result.output
    assert snapshot(out) == before
    assert list(elsewhere.iterdir()) == []


def test_a_full_disk_mid_write_leaves_the_old_tree_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert _compile(EXAMPLE, out).exit_code == 0
    before = snapshot(out)
    real_write = swap.write_file
    calls = {"n": 0}

    def fill_disk_on_third_file(path: Path, content: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, content)

    monkeypatch.setattr(swap, "write_file", fill_disk_on_third_file)
    result = _compile(_spec(tmp_path, _without_search, "smaller"), out)
    assert result.exit_code == 2, result.output
    assert calls["n"] == 3
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir() if "mlspec-tmp" in p.name] == []
