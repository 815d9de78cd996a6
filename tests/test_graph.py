"""The platform graph of the reference spec, and the graph checks (MLS601-604)."""

from __future__ import annotations

import pytest

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.graph import EDGE_KINDS, NODE_KINDS, Edge, Graph, Node, build_graph, extract
from mlspec.graph_checks import check_graph, unprovided_versions
from mlspec.spec.frontend import SpecFile, Validated, validate_spec
from mlspec.spec.loader import load_bytes
from mlspec.spec.validate import validate_platform
from tests.conftest import EXAMPLE

NAME = "platform.yaml"


def validated(text: str, env: str = "prod") -> Validated:
    return validate_spec(SpecFile(NAME, NAME, text.encode()), [env])


def graph_of(text: str, env: str = "prod") -> Graph:
    spec = validated(text, env)
    assert spec.ok, spec.diagnostics
    chosen = spec.environments[env]
    return build_graph(chosen.platform, chosen.sources)


def line_of(text: str, needle: str, after: str = "") -> int:
    """1-based line of the first ``needle`` after the first ``after``."""
    start = text.index(after) if after else 0
    return text.count("\n", 0, text.index(needle, start)) + 1


def codes(diagnostics: list[Diagnostic], prefix: str = "MLS6") -> list[str]:
    return [d.code for d in diagnostics if d.code.startswith(prefix)]


@pytest.fixture(scope="module")
def reference() -> Graph:
    return graph_of(EXAMPLE.read_text(encoding="utf-8"))


def test_reference_graph_has_every_object_as_a_node(reference: Graph) -> None:
    assert [n.id for n in reference.nodes] == sorted(
        [
            "platform:acme-ml",
            "gpuPool:a100-80gb",
            "gpuPool:h100-mig",
            "gpuPool:l4-shared",
            "tenant:fraud",
            "tenant:search",
            "template:tabular-train",
            "pipeline:fraud-train",
            "pipeline:search-rerank-train",
            "step:fraud-train/prepare",
            "step:fraud-train/train",
            "step:fraud-train/evaluate",
            "step:search-rerank-train/featurize",
            "step:search-rerank-train/finetune",
            "model:fraud-detector",
            "model:search-reranker",
            "modelVersion:fraud-detector/7",
            "modelVersion:fraud-detector/8",
            "modelVersion:search-reranker/3",
            "deployment:fraud-scorer",
            "deployment:search-reranker",
            "monitor:fraud-scorer-health",
            "monitor:search-reranker-health",
        ]
    )
    assert {n.kind for n in reference.nodes} == set(NODE_KINDS)


def test_every_node_and_edge_is_located_at_its_spec_line(
    reference: Graph, example_text: str
) -> None:
    items: list[Node | Edge] = [*reference.nodes, *reference.edges]
    for item in items:
        assert item.location is not None and item.location.file == NAME, item
    lines = {n.id: n.location.line for n in reference.nodes if n.location}
    assert lines["deployment:fraud-scorer"] == line_of(
        example_text, "fraud-scorer:", "\ndeployments:"
    )
    assert lines["modelVersion:fraud-detector/8"] == line_of(example_text, "8: {source")
    # template steps are located in the template they were expanded from
    assert lines["step:fraud-train/train"] == line_of(example_text, "      train:", "templates:")


def test_reference_graph_has_every_typed_edge(reference: Graph, example_text: str) -> None:
    edges = {(e.source, e.kind, e.target): e for e in reference.edges}
    expected = [
        ("platform:acme-ml", "configures", "tenant:fraud"),
        ("tenant:fraud", "owns", "deployment:fraud-scorer"),
        ("tenant:fraud", "uses-pool", "gpuPool:l4-shared"),
        ("step:fraud-train/train", "uses-pool", "gpuPool:a100-80gb"),
        ("deployment:search-reranker", "uses-pool", "gpuPool:h100-mig"),
        ("pipeline:fraud-train", "instantiates", "template:tabular-train"),
        ("step:fraud-train/train", "step-of", "pipeline:fraud-train"),
        ("step:fraud-train/prepare", "feeds", "step:fraud-train/train"),
        ("step:fraud-train/train", "feeds", "step:fraud-train/evaluate"),
        ("step:fraud-train/train", "produces", "model:fraud-detector"),
        ("modelVersion:fraud-detector/7", "version-of", "model:fraud-detector"),
        ("deployment:fraud-scorer", "serves", "modelVersion:fraud-detector/7"),  # champion
        ("modelVersion:fraud-detector/8", "canary-of", "deployment:fraud-scorer"),  # challenger
        ("monitor:fraud-scorer-health", "watches", "deployment:fraud-scorer"),
        ("monitor:fraud-scorer-health", "retrains", "pipeline:fraud-train"),
    ]
    for key in expected:
        assert key in edges, key
    assert {e.kind for e in reference.edges} == set(EDGE_KINDS)
    serves = edges[expected[11]]
    assert serves.location is not None
    assert serves.location.line == line_of(example_text, "version: champion")
    retrains = edges[expected[14]]
    assert retrains.location is not None
    assert retrains.location.line == line_of(example_text, "onDrift: {retrain")


def test_dependencies_follow_data_flow_and_the_retrain_loop_is_no_cycle(reference: Graph) -> None:
    downstream = reference.descendants(["step:fraud-train/train"])
    assert {
        "step:fraud-train/evaluate",
        "pipeline:fraud-train",
        "model:fraud-detector",
        "modelVersion:fraud-detector/8",
        "deployment:fraud-scorer",
        "monitor:fraud-scorer-health",
    } <= downstream
    # the monitor triggers the pipeline: it depends on it, not the other way round
    assert "monitor:fraud-scorer-health" in reference.descendants(["pipeline:fraud-train"])
    assert "monitor:fraud-scorer-health" not in reference.ancestors(["pipeline:fraud-train"])
    assert "step:search-rerank-train/finetune" not in downstream


def test_reference_spec_passes_every_graph_check(example_text: str) -> None:
    spec = validated(example_text)
    assert spec.diagnostics == []
    chosen = spec.environments["prod"]
    assert check_graph(chosen.platform, chosen.sources) == []


def test_pointers_map_to_the_enclosing_node(reference: Graph) -> None:
    assert reference.node_for_pointer("/deployments/fraud-scorer") == "deployment:fraud-scorer"
    assert reference.node_for_pointer("/monitors/fraud-scorer-health/drift") == (
        "monitor:fraud-scorer-health"
    )
    assert reference.node_for_pointer("/pipelines/fraud-train/steps/train/image") == (
        "step:fraud-train/train"
    )
    assert reference.node_for_pointer("/gitops") == "platform:acme-ml"
    assert reference.node_for_pointer("") == "platform:acme-ml"


CYCLE = """  loop:
    tenant: fraud
    steps:
      a:
        image: x:1
        inputs: {z: c.z}
        outputs: {a: Dataset}
      b:
        image: x:1
        inputs: {a: a.a}
        outputs: {b: Dataset}
      c:
        image: x:1
        inputs: {b: b.b}
        outputs: {z: Dataset}
"""


def test_data_flow_cycle_is_an_error_listing_the_cycle_in_order(example_text: str) -> None:
    text = example_text.replace("pipelines:\n", "pipelines:\n" + CYCLE, 1)
    spec = validated(text)
    assert codes(spec.diagnostics) == ["MLS601"]
    (diag,) = spec.diagnostics
    assert "pipeline loop form a data-flow cycle: a -> b -> c -> a" in diag.message
    assert diag.location is not None
    assert diag.location.line == line_of(text, "inputs: {z: c.z}")  # c feeds a: closes it
    assert diag.pointer == "/pipelines/loop/steps/a/inputs/z"
    assert [loc.line for loc in diag.related] == [
        line_of(text, "inputs: {a: a.a}"),
        line_of(text, "inputs: {b: b.b}"),
    ]


def test_two_step_cycle_in_an_inline_pipeline(example_text: str) -> None:
    old = "        outputs: {features: Dataset}\n"
    text = example_text.replace(old, old + "        inputs: {seed: finetune.model}\n", 1)
    spec = validated(text)
    (diag,) = [d for d in spec.diagnostics if d.code == "MLS601"]
    assert diag.message.endswith("featurize -> finetune -> featurize")
    assert diag.location is not None
    assert diag.location.line == line_of(text, "inputs: {seed: finetune.model}")


def test_deployment_serving_another_tenants_model_is_an_error(example_text: str) -> None:
    old = "    tenant: search\n    model: search-reranker\n    version: 3\n"
    text = example_text.replace(
        old, "    tenant: search\n    model: fraud-detector\n    version: 7\n"
    )
    spec = validated(text)
    errors = [d for d in spec.diagnostics if d.code == "MLS602"]
    assert len(errors) == 1
    assert "deployment search-reranker of tenant search serves a version of model" in (
        errors[0].message
    )
    assert errors[0].location is not None
    assert errors[0].location.line == line_of(text, "version: 7", "\ndeployments:")
    # the reranker model is now served by nobody: a warning at its line
    (warning,) = [d for d in spec.diagnostics if d.code == "MLS604"]
    assert warning.severity is Severity.WARNING
    assert warning.location is not None
    assert warning.location.line == line_of(text, "search-reranker:", "models:")


def test_a_shared_model_may_be_served_by_another_tenant(example_text: str) -> None:
    old = "    tenant: search\n    model: search-reranker\n    version: 3\n"
    text = example_text.replace(
        old, "    tenant: search\n    model: fraud-detector\n    version: 7\n"
    )
    text = text.replace("    framework: xgboost\n", "    framework: xgboost\n    shared: true\n")
    spec = validated(text)
    assert codes(spec.diagnostics) == ["MLS604"]  # only: search-reranker is unserved


def test_monitor_watching_and_retraining_another_tenant_is_an_error(example_text: str) -> None:
    old = "    tenant: search\n    deployment: search-reranker\n"
    text = example_text.replace(old, "    tenant: search\n    deployment: fraud-scorer\n")
    text = text.replace("    tenant: fraud\n    template:", "    tenant: search\n    template:")
    spec = validated(text)
    cross = [d for d in spec.diagnostics if d.code == "MLS602"]
    found = sorted((d.pointer or "", d.location.line if d.location else 0) for d in cross)
    assert found == [
        ("/monitors/fraud-scorer-health/onDrift/retrain", line_of(text, "onDrift: {retrain")),
        (
            "/monitors/search-reranker-health/deployment",
            line_of(text, "deployment: fraud-scorer", "search-reranker-health:"),
        ),
        ("/pipelines/fraud-train/produces/fraud-detector", line_of(text, "fraud-detector: train")),
    ]
    # and tenant search has no quota in the a100 pool the moved pipeline trains on
    assert sorted(codes(spec.diagnostics)) == ["MLS602"] * 3 + ["MLS607"]


def test_unprovided_version_is_reported_when_references_are_bypassed(example_text: str) -> None:
    # references.py (MLS305) stops this first in `validate`; the graph check backs it up
    text = example_text.replace("aliases: {champion: 7, challenger: 8}", "aliases: {champion: 9}")
    text = text.replace("    canary: {version: challenger, traffic: 10}\n", "")
    loaded = load_bytes(text.encode(), NAME)
    assert loaded.data is not None
    platform, problems = validate_platform(loaded.data, loaded.sources)
    assert platform is not None and problems == []
    (diag,) = unprovided_versions(extract(platform, loaded.sources))
    assert diag.code == "MLS603"
    assert "serves version 9 of model fraud-detector" in diag.message
    assert diag.location is not None
    assert diag.location.line == line_of(text, "version: champion")
