"""`compile --select state:modified+` compiles only what changed, and gives the tree a
full compile gives: byte for byte, the manifest and the kustomizations included."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec import api
from mlspec.spec.frontend import SpecFile
from tests.conftest import EXAMPLE, snapshot

SCORER = "replicas: {min: 2, max: 10}"
NEW_DEPLOYMENT = (
    "  fraud-shadow:\n    tenant: fraud\n    model: fraud-detector\n    version: 8\n"
    "    replicas: {min: 1, max: 2}\n"
)
MONITOR = "      threshold: 0.2\n"
UNRELATED = "prod/tenants/search/inferenceservice-search-reranker.yaml"

EDITS = {
    "one deployment": (SCORER, "replicas: {min: 2, max: 12}"),
    "a new deployment": ("\ndeployments:\n", "\ndeployments:\n" + NEW_DEPLOYMENT),
    "a tenant": ("displayName: Fraud Detection", "displayName: Fraud & Risk"),
    "a monitor's drift job": (MONITOR, "      threshold: 0.3\n"),
}


def spec_of(text: str) -> SpecFile:
    return SpecFile("platform.yaml", "platform.yaml", text.encode())


def compile_into(text: str, out: Path, select: str | None = None) -> api.Compiled:
    compiled = api.compile_to(spec_of(text), out, select=select)
    assert compiled.ok, compiled.diagnostics
    return compiled


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_selected_compile_gives_the_tree_of_a_full_compile(tmp_path: Path, edit: str) -> None:
    before = EXAMPLE.read_text(encoding="utf-8")
    old, new = EDITS[edit]
    assert before.count(old) == 1
    after = before.replace(old, new)
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    compile_into(before, out)
    unrelated = (out / UNRELATED).stat().st_ino
    compiled = compile_into(after, out, "state:modified+")
    compile_into(after, fresh)
    assert snapshot(out) == snapshot(fresh)
    assert compiled.written is not None and compiled.written.changed
    # what was not selected was carried over, not rewritten: the same inode
    assert (out / UNRELATED).stat().st_ino == unrelated
    assert UNRELATED not in compiled.files


def test_selected_compile_builds_only_the_selected_nodes_objects(tmp_path: Path) -> None:
    before = EXAMPLE.read_text(encoding="utf-8")
    out = tmp_path / "out"
    compile_into(before, out)
    compiled = compile_into(
        before.replace(SCORER, "replicas: {min: 3, max: 10}"), out, "state:modified+"
    )
    # the deployment and its monitor, in both environments; nothing else was emitted
    assert {path.split("/", 1)[1] for path in compiled.files} == {
        "tenants/fraud/inferenceservice-fraud-scorer.yaml",
        "tenants/fraud/podmonitor-fraud-scorer.yaml",
        "tenants/fraud/configmap-fraud-scorer-dashboard.yaml",
        "tenants/fraud/prometheusrule-fraud-scorer-health.yaml",
        "tenants/fraud/cronjob-fraud-scorer-health-drift.yaml",
        "tenants/fraud/configmap-fraud-scorer-health-drift.yaml",
    }


def test_selected_compile_of_an_unchanged_spec_writes_nothing(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    out = tmp_path / "out"
    compile_into(text, out)
    before = snapshot(out)
    compiled = compile_into(text, out, "state:modified+")
    assert compiled.written is not None and not compiled.written.changed
    assert snapshot(out) == before
