"""Selection syntax, methods, graph operators and state:modified against a manifest."""

from __future__ import annotations

import pytest

from mlspec.graph import Graph, build_graph
from mlspec.selection import (
    SelectionContext,
    SelectionCriteria,
    SelectionError,
    node_hashes,
    parse_selector,
    select,
    select_environments,
)
from mlspec.spec.frontend import SpecFile, Validated, validate_spec
from tests.conftest import EXAMPLE
from tests.test_graph import validated

FRAUD_SCORER_DOWNSTREAM = {"deployment:fraud-scorer", "monitor:fraud-scorer-health"}


@pytest.fixture(scope="module")
def reference() -> Graph:
    spec = validated(EXAMPLE.read_text(encoding="utf-8"))
    chosen = spec.environments["prod"]
    return build_graph(chosen.platform, chosen.sources)


def chosen(graph: Graph, text: str) -> set[str]:
    return set(select(SelectionContext(graph), parse_selector(text)).nodes)


def test_selector_text_parses_into_unions_of_intersections() -> None:
    spec = parse_selector("+deployment:fraud-scorer+ tenant:fraud,kind:model  state:modified+")
    assert [len(i.components) for i in spec.components] == [1, 2, 1]
    first = spec.components[0].components[0]
    assert first == SelectionCriteria("deployment", "fraud-scorer", parents=True, children=True)
    assert spec.components[1].components[1] == SelectionCriteria("kind", "model")
    assert SelectionCriteria.parse("fraud-scorer") == SelectionCriteria("name", "fraud-scorer")
    assert spec.components[2].components[0].children


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty selector"),
        ("colour:red", "unknown selector method 'colour'"),
        ("tenant:", "needs a value"),
        ("++x", "invalid selector"),
    ],
)
def test_bad_selectors_are_refused(text: str, message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        parse_selector(text)


def test_name_and_kind_name_methods(reference: Graph) -> None:
    # a bare name matches every kind: the model and the deployment share it
    assert chosen(reference, "search-reranker") == {
        "model:search-reranker",
        "deployment:search-reranker",
    }
    assert chosen(reference, "deployment:search-reranker") == {"deployment:search-reranker"}
    assert chosen(reference, "step:fraud-train/*") == {
        "step:fraud-train/prepare",
        "step:fraud-train/train",
        "step:fraud-train/evaluate",
    }
    assert chosen(reference, "kind:modelVersion") == {
        "modelVersion:fraud-detector/7",
        "modelVersion:fraud-detector/8",
        "modelVersion:search-reranker/3",
    }


def test_tenant_method_selects_everything_the_tenant_owns(reference: Graph) -> None:
    search = chosen(reference, "tenant:search")
    assert search == {
        "tenant:search",
        "pipeline:search-rerank-train",
        "step:search-rerank-train/featurize",
        "step:search-rerank-train/finetune",
        "model:search-reranker",
        "modelVersion:search-reranker/3",
        "deployment:search-reranker",
        "monitor:search-reranker-health",
    }


def test_graph_operators_union_and_intersection(reference: Graph) -> None:
    assert chosen(reference, "deployment:fraud-scorer+") == FRAUD_SCORER_DOWNSTREAM
    upstream = chosen(reference, "+deployment:fraud-scorer")
    assert {"modelVersion:fraud-detector/7", "step:fraud-train/train", "tenant:fraud"} <= upstream
    assert "monitor:fraud-scorer-health" not in upstream
    both = chosen(reference, "+deployment:fraud-scorer+")
    assert both == upstream | FRAUD_SCORER_DOWNSTREAM
    assert chosen(reference, "tenant:fraud,kind:deployment kind:gpuPool,a100-80gb") == {
        "deployment:fraud-scorer",
        "gpuPool:a100-80gb",
    }
    assert chosen(reference, "gpuPool:h100-mig+,kind:step") == {"step:search-rerank-train/finetune"}


def test_unmatched_criteria_are_reported(reference: Graph) -> None:
    result = select(SelectionContext(reference), parse_selector("fraud-scorer frauds-scorer"))
    assert result.nodes == {"deployment:fraud-scorer"}
    assert result.unmatched == ("frauds-scorer",)


# --- state ----------------------------------------------------------------------------------


def manifest_of(spec: Validated) -> dict[str, object]:
    """What a compile records: per environment, the node hashes."""
    return {"environments": {e: {"nodes": h} for e, h in node_hashes(spec).items()}}


def state_selection(before: str, after: str, text: str) -> dict[str, set[str]]:
    old, new = validated_all(before), validated_all(after)
    chosen, _ = select_environments(new, text, node_hashes(new), manifest_of(old))
    return {env: set(found.nodes) for env, found in chosen.items()}


def validated_all(text: str) -> Validated:
    spec = validate_spec(SpecFile("platform.yaml", "platform.yaml", text.encode()))
    assert spec.ok, spec.diagnostics
    return spec


def test_environment_differences_are_not_modifications(example_text: str) -> None:
    # staging's patch makes fraud-scorer differ from prod: no change between compiles
    assert state_selection(example_text, example_text, "state:modified+") == {
        "prod": set(),
        "staging": set(),
    }
    commented = example_text.replace(
        "    replicas: {min: 2, max: 10}\n", "    replicas: {max: 10, min: 2}  # sorted\n"
    )
    assert state_selection(example_text, commented, "state:modified") == {
        "prod": set(),
        "staging": set(),
    }


def test_state_modified_plus_after_a_one_line_change(example_text: str) -> None:
    after = example_text.replace("replicas: {min: 2, max: 10}", "replicas: {min: 2, max: 12}")
    found = state_selection(example_text, after, "state:modified")
    assert found["prod"] == {"deployment:fraud-scorer"}
    found = state_selection(example_text, after, "state:modified+")
    assert found["prod"] == FRAUD_SCORER_DOWNSTREAM


def test_a_template_change_modifies_its_pipelines_and_their_consumers(example_text: str) -> None:
    old = 'image: "ghcr.io/acme/tabular-train:{{ version }}"'
    after = example_text.replace(old, 'image: "ghcr.io/acme/tabular-train-v2:{{ version }}"')
    modified = {"template:tabular-train", "pipeline:fraud-train", "step:fraud-train/train"}
    assert state_selection(example_text, after, "state:modified")["prod"] == modified
    assert state_selection(example_text, after, "state:modified+")["prod"] == modified | {
        "step:fraud-train/evaluate",
        "model:fraud-detector",
        "modelVersion:fraud-detector/7",
        "modelVersion:fraud-detector/8",
        *FRAUD_SCORER_DOWNSTREAM,
    }


def test_an_environment_patch_change_modifies_only_what_it_patches(example_text: str) -> None:
    old = "        fraud-scorer:\n          replicas: {min: 1, max: 2}\n"
    after = example_text.replace(
        old, "        fraud-scorer:\n          replicas: {min: 1, max: 3}\n"
    )
    assert state_selection(example_text, after, "state:modified") == {
        "prod": set(),
        "staging": {"deployment:fraud-scorer"},
    }
    pools = "      deployments:\n"
    after = example_text.replace(pools, "      gpuPools: {a100-80gb: {nodes: 2}}\n" + pools, 1)
    assert state_selection(example_text, after, "state:modified") == {
        "prod": set(),
        "staging": {"gpuPool:a100-80gb"},
    }


def test_platform_settings_change_reaches_every_compiled_node(example_text: str) -> None:
    after = example_text.replace("    org: acme\n", "    org: acme-corp\n")
    assert state_selection(example_text, after, "state:modified")["prod"] == {"platform:acme-ml"}
    downstream = state_selection(example_text, after, "state:modified+")["prod"]
    assert {"deployment:search-reranker", "step:fraud-train/train", "tenant:fraud"} <= downstream


def test_state_new_selects_only_added_nodes(example_text: str) -> None:
    model = "models:\n  extra:\n    tenant: search\n    framework: onnx\n"
    model += "    versions: {1: {source: s3://m/1}}\n"
    after = example_text.replace("models:\n", model, 1)
    found = state_selection(example_text, after, "state:new")
    assert found["prod"] == {"model:extra", "modelVersion:extra/1"}


def test_state_needs_a_previous_manifest(reference: Graph) -> None:
    with pytest.raises(SelectionError, match="needs the manifest"):
        select(SelectionContext(reference), parse_selector("state:modified"))
