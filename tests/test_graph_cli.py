"""`mlspec graph`, `explain`, `capacity`, and `compile --select` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlspec.cli import main
from mlspec.graph import EDGE_KINDS, NODE_KINDS
from tests.conftest import EXAMPLE, modules_loaded_by_validate, snapshot

COMPILERS = ["--compiler", "tenancy", "--compiler", "serving"]  # enough, and fast


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [*args])


def test_graph_json_has_every_node_and_edge_with_its_location() -> None:
    result = run("graph", str(EXAMPLE), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["environment"] == "prod"
    assert {n["kind"] for n in data["nodes"]} == set(NODE_KINDS)
    assert {e["kind"] for e in data["edges"]} == set(EDGE_KINDS)
    for item in data["nodes"] + data["edges"]:
        assert item["location"]["file"] == str(EXAMPLE) and item["location"]["line"] > 0, item
    serves = [e for e in data["edges"] if e["kind"] == "serves"]
    assert {(e["source"], e["target"]) for e in serves} == {
        ("deployment:fraud-scorer", "modelVersion:fraud-detector/7"),
        ("deployment:search-reranker", "modelVersion:search-reranker/3"),
    }


def test_graph_mermaid_and_dot_render_the_typed_edges() -> None:
    mermaid = run("graph", str(EXAMPLE)).stdout
    assert mermaid.startswith("flowchart LR\n")
    assert '["deployment:fraud-scorer"]' in mermaid and "-->|retrains|" in mermaid
    dot = run("graph", str(EXAMPLE), "--format", "dot", "--env", "staging").stdout
    assert dot.startswith('digraph "staging" {')
    assert '"monitor:fraud-scorer-health" -> "pipeline:fraud-train" [label="retrains"];' in dot
    # staging's patch drops the canary: no canary-of edge there
    assert "canary-of" not in dot


def test_graph_select_shows_the_selected_subgraph() -> None:
    result = run("graph", str(EXAMPLE), "--format", "json", "-s", "deployment:fraud-scorer+")
    data = json.loads(result.stdout)
    assert [n["id"] for n in data["nodes"]] == [
        "deployment:fraud-scorer",
        "monitor:fraud-scorer-health",
    ]
    assert [(e["source"], e["kind"]) for e in data["edges"]] == [
        ("monitor:fraud-scorer-health", "watches")
    ]


def test_state_selector_without_state_is_a_usage_error() -> None:
    result = run("graph", str(EXAMPLE), "-s", "state:modified")
    assert result.exit_code == 2
    assert "MLS610" in result.stderr and "needs the manifest" in result.stderr


def test_explain_lists_dependencies_dependents_and_files() -> None:
    result = run("explain", str(EXAMPLE), "fraud-scorer", *COMPILERS)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("deployment:fraud-scorer  (environment prod)\n")
    assert "serves     modelVersion:fraud-detector/7" in text
    assert "watches  monitor:fraud-scorer-health" in text
    assert "compiles to (1 files):\n  prod/tenants/fraud/inferenceservice-fraud-scorer.yaml" in text


def test_explain_of_an_unknown_node_suggests_one() -> None:
    result = run("explain", str(EXAMPLE), "deployment:fraud-scorr")
    assert result.exit_code == 2
    assert "MLS613" in result.stderr and "deployment:fraud-scorer" in result.stderr


def test_capacity_text_and_json() -> None:
    text = run("capacity", str(EXAMPLE)).stdout
    assert "a100-80gb  32 GPUs" in text
    assert "h100-mig   112 slices of 1g.10gb" in text
    assert "l4-shared  32 shares" in text
    assert "fraud   total" in text and "17,702.50" in text and "5,986.00" in text
    data = json.loads(run("capacity", str(EXAMPLE), "--format", "json").stdout)
    assert data["tenants"]["search"]["monthlyCost"] == pytest.approx(2 * 4.10 * 730)


# --- compile --select -----------------------------------------------------------------------


def compile_into(spec: Path, out: Path, *extra: str) -> Result:
    # selection is under test, not the policies (the added deployments have no monitor)
    result = run("compile", str(spec), "--out", str(out), *COMPILERS, "--no-policy", *extra)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def compiled(tmp_path: Path, example_text: str) -> tuple[Path, Path, str]:
    spec, out = tmp_path / "platform.yaml", tmp_path / "out"
    spec.write_text(example_text, encoding="utf-8")
    compile_into(spec, out)
    return spec, out, example_text


def changed(before: dict[str, tuple[int, bytes]], after: dict[str, tuple[int, bytes]]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def test_select_compile_rewrites_only_the_selected_artifacts(
    compiled: tuple[Path, Path, str],
) -> None:
    spec, out, text = compiled
    before = snapshot(out)
    text = text.replace("replicas: {min: 2, max: 10}", "replicas: {min: 3, max: 10}")
    text = text.replace("displayName: Fraud Detection", "displayName: Fraud & Risk")
    spec.write_text(text, encoding="utf-8")
    compile_into(spec, out, "--select", "deployment:fraud-scorer", "--env", "prod")
    after = snapshot(out)
    # the deployment is rewritten; the tenant's namespace (also changed) is not
    assert changed(before, after) == {
        "prod/tenants/fraud/inferenceservice-fraud-scorer.yaml",
        "manifest.json",
    }
    manifest = json.loads((out / "manifest.json").read_text())
    nodes = manifest["environments"]["prod"]["nodes"]
    old_nodes = json.loads(before["manifest.json"][1])["environments"]["prod"]["nodes"]
    assert nodes["deployment:fraud-scorer"] != old_nodes["deployment:fraud-scorer"]
    assert nodes["tenant:fraud"] == old_nodes["tenant:fraud"]  # not compiled: still old
    # so the tenant is still pending; a full compile then brings everything in line
    result = run(
        "graph", str(spec), "--format", "json", "-s", "state:modified", "--state", str(out)
    )
    assert [n["id"] for n in json.loads(result.stdout)["nodes"]] == ["tenant:fraud"]
    compile_into(spec, out)
    fresh = spec.parent / "fresh"
    compile_into(spec, fresh)
    assert snapshot(out) == snapshot(fresh)


def test_select_compile_lists_a_new_selected_file_and_skips_unselected_ones(
    compiled: tuple[Path, Path, str],
) -> None:
    spec, out, text = compiled
    before = snapshot(out)
    new = "\ndeployments:\n"
    for name in ("fraud-shadow", "fraud-other"):
        new += f"  {name}:\n    tenant: fraud\n    model: fraud-detector\n    version: 8\n"
    spec.write_text(text.replace("\ndeployments:\n", new, 1), encoding="utf-8")
    compile_into(spec, out, "-s", "deployment:fraud-shadow")
    after = snapshot(out)
    listing = "tenants/fraud/kustomization.yaml"
    assert changed(before, after) == {
        *(f"{env}/tenants/fraud/inferenceservice-fraud-shadow.yaml" for env in ("prod", "staging")),
        *(f"{env}/{listing}" for env in ("prod", "staging")),
        "manifest.json",
    }
    kustomization = after[f"prod/{listing}"][1].decode()
    assert "- inferenceservice-fraud-shadow.yaml" in kustomization
    assert "fraud-other" not in kustomization


def test_validate_does_not_import_networkx() -> None:
    assert modules_loaded_by_validate(["networkx"]) == []
