"""Golden files: every example compiles to exactly the checked-in tree, byte for byte.

Regenerate with `make golden` (scripts/update_golden.py) and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlspec import api
from mlspec.spec.frontend import SpecFile
from tests.conftest import ROOT

EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*.yaml"))
GOLDEN = ROOT / "golden"


def _golden_files(tree: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(tree)): p.read_bytes()
        for p in sorted(tree.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_compiles_to_its_golden_tree(spec: Path) -> None:
    compiled = api.compile_spec(SpecFile.read(spec))
    assert compiled.ok, compiled.diagnostics
    golden = GOLDEN / spec.stem
    assert golden.is_dir(), "no golden tree: run `make golden`"
    expected = _golden_files(golden)
    missing = sorted(set(expected) - set(compiled.files))
    extra = sorted(set(compiled.files) - set(expected))
    changed = sorted(
        p for p in expected if p in compiled.files and compiled.files[p] != expected[p]
    )
    assert (missing, extra, changed) == ([], [], []), "golden files differ: run `make golden`"
    manifest = json.loads((golden / "manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(expected)


def test_changing_one_field_changes_only_the_expected_golden_files(tmp_path: Path) -> None:
    spec = ROOT / "specs" / "examples" / "platform.yaml"
    text = spec.read_text().replace("costCenter: CC-2210", "costCenter: CC-2211")
    edited = tmp_path / "platform.yaml"
    edited.write_text(text)
    compiled = api.compile_spec(SpecFile.read(edited))
    assert compiled.ok
    expected = _golden_files(GOLDEN / "platform")
    changed = sorted(p for p in expected if compiled.files.get(p) != expected[p])
    # the namespace carries the cost center; the other objects compiled from the
    # /tenants/search node change only in their source-digest annotation
    expected_changes = [
        f"{env}/{path}"
        for env in ("prod", "staging")
        for path in (
            f"argocd/application-{env}-search.yaml",
            f"argocd/appproject-{env}-search.yaml",
            "platform/tenants/search/namespace-search.yaml",
            "platform/tenants/search/role-mlspec-kfp-runner.yaml",
            "platform/tenants/search/rolebinding-mlspec-kfp-runner.yaml",
            "platform/tenants/search/serviceaccount-mlspec-kfp-runner.yaml",
        )
    ]
    assert changed == sorted(expected_changes)
    namespace = compiled.files["prod/platform/tenants/search/namespace-search.yaml"].decode()
    assert "mlspec.dev/cost-center: CC-2211" in namespace
