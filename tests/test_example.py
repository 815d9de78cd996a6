"""The reference spec is the language contract: it validates and compiles as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlspec.cli import main
from mlspec.spec.frontend import SpecFile, validate_spec
from tests.conftest import CONTRACT, EXAMPLE, modules_loaded_by_validate, snapshot


def test_example_is_identical_to_the_shared_contract() -> None:
    if not CONTRACT.exists():
        pytest.skip("the shared contract is not checked out beside this repository")
    assert EXAMPLE.read_bytes() == CONTRACT.read_bytes()


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_example_validates_in_each_environment(env: str) -> None:
    result = CliRunner().invoke(main, ["validate", str(EXAMPLE), "--env", env])
    assert result.exit_code == 0, result.output
    assert f"ok: {EXAMPLE} is valid (environments: {env})" in result.output


def test_example_validates_without_warnings_in_every_environment() -> None:
    validated = validate_spec(SpecFile.read(EXAMPLE))
    assert validated.diagnostics == []
    assert sorted(validated.environments) == ["prod", "staging"]


def test_staging_patch_removes_the_canary_and_shrinks_replicas() -> None:
    validated = validate_spec(SpecFile.read(EXAMPLE))
    staging = validated.environments["staging"].platform.deployments["fraud-scorer"]
    prod = validated.environments["prod"].platform.deployments["fraud-scorer"]
    assert staging.canary is None and (staging.replicas.min, staging.replicas.max) == (1, 2)
    assert prod.canary is not None and prod.canary.traffic == 10
    assert (prod.replicas.min, prod.replicas.max) == (2, 10)


def test_template_expansion_fills_with_values_and_keeps_placeholders_symbolic() -> None:
    platform = validate_spec(SpecFile.read(EXAMPLE)).environments["prod"].platform
    train = platform.pipelines["fraud-train"].steps["train"]
    assert train.image == "ghcr.io/acme/tabular-train:1.4.2"
    assert train.args[3] == "{{ params.max_depth }}"
    assert train.resources is not None and train.resources.gpu is not None
    assert train.resources.gpu.pool == "a100-80gb"
    params = platform.pipelines["fraud-train"].parameters
    assert params["data_uri"].type == "string"
    assert params["data_uri"].default == "s3://acme-data/fraud/latest"
    assert params["max_depth"].default == 8


def test_compile_writes_one_tree_per_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compile", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "manifest.json" in files
    for env in ("prod", "staging"):
        assert f"{env}/platform/tenants/fraud/namespace-fraud.yaml" in files
        assert f"{env}/platform/tenants/search/namespace-search.yaml" in files
        assert f"{env}/tenants/search/kustomization.yaml" in files
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["environments"]) == ["prod", "staging"]
    assert set(manifest["files"]) == {f for f in files if f != "manifest.json"}


def test_compile_of_one_environment_keeps_the_other(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["compile", str(EXAMPLE), "--out", str(out)]).exit_code == 0
    before = snapshot(out)
    result = runner.invoke(main, ["compile", str(EXAMPLE), "--out", str(out), "--env", "staging"])
    assert result.exit_code == 0, result.output
    assert snapshot(out) == before


def _compile_in_subprocess(out: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "mlspec", "compile", str(EXAMPLE), "--out", str(out)],
        check=True,
        env={**os.environ, **env},
        cwd=out.parent,
        capture_output=True,
    )


def test_output_is_identical_under_other_hash_seed_time_zone_locale_and_umask(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a" / "out", tmp_path / "b" / "out"
    first.parent.mkdir()
    second.parent.mkdir()
    _compile_in_subprocess(first, {"PYTHONHASHSEED": "1", "TZ": "UTC", "LANG": "C"})
    os.umask(old := os.umask(0o077))
    try:
        os.umask(0o077)
        _compile_in_subprocess(
            second,
            {"PYTHONHASHSEED": "4242", "TZ": "Pacific/Chatham", "LANG": "tr_TR.UTF-8"},
        )
    finally:
        os.umask(old)
    assert snapshot(first) == snapshot(second)


def test_compiling_twice_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["compile", str(EXAMPLE), "--out", str(out)]).exit_code == 0
    before = snapshot(out)
    result = runner.invoke(main, ["compile", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0
    assert "unchanged" in result.output
    assert snapshot(out) == before


def test_validate_imports_neither_kfp_nor_mlflow() -> None:
    assert modules_loaded_by_validate(["kfp", "mlflow"]) == []
