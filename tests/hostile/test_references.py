"""References that do not resolve, each reported where the reference is written (MLS3xx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Case, Rejects, case, position, run_cli, spec_with, write_spec


def _ref(case_id: str, old: str, new: str, code: str, at: str, **kwargs: Any) -> Any:
    """Replace ``old`` with ``new``; expect ``code`` where ``at`` is, on the edited line."""
    text = spec_with(replace=[(old, new)])
    marker = kwargs.pop("marker", new.strip("\n").strip().split("\n")[-1])
    return case(case_id, text, code, position(text, marker, at=at), **kwargs)


FINETUNE_INPUTS = "inputs: {features: featurize.features}"
FEATURIZE_ARGS = 'args: [--corpus, "{{ params.corpus_uri }}", --out, "{{ outputs.features }}"]'

REFERENCE_CASES = [
    _ref(
        "unknown-tenant",
        "    tenant: search\n    schedule",
        "    tenant: serch\n    schedule",
        "MLS301",
        at="serch",
        marker="tenant: serch",
        hint="did you mean `search`?",
        message="unknown tenant `serch`",
    ),
    _ref(
        "unknown-tenant-far-from-any",
        "    tenant: search\n    framework",
        "    tenant: nobody\n    framework",
        "MLS301",
        at="nobody",
        marker="tenant: nobody",
        hint="known tenants: fraud, search",
    ),
    _ref(
        "unknown-pool-in-quota",
        "gpu: {h100-mig: 14}",
        "gpu: {h100-mg: 14}",
        "MLS302",
        at="h100-mg",
        hint="did you mean `h100-mig`?",
    ),
    _ref(
        "unknown-pool-in-borrow",
        "borrow: {a100-80gb: 8}",
        "borrow: {a100-40gb: 8}",
        "MLS302",
        at="a100-40gb",
    ),
    _ref(
        "unknown-pool-in-step",
        "gpu: {pool: h100-mig, count: 2}",
        "gpu: {pool: h200, count: 2}",
        "MLS302",
        at="h200",
        hint="known GPU pools: a100-80gb, h100-mig, l4-shared",
    ),
    _ref(
        "unknown-pool-in-deployment",
        "gpu: {pool: h100-mig, count: 1}",
        "gpu: {pool: h100, count: 1}",
        "MLS302",
        at="h100,",
        hint="did you mean `h100-mig`?",
    ),
    _ref(
        "unknown-template",
        "    template: tabular-train\n",
        "    template: tabular-trian\n",
        "MLS303",
        at="tabular-trian",
        also=(),  # the then unused template is only a warning
        hint="did you mean `tabular-train`?",
    ),
    _ref(
        "unknown-model-in-deployment",
        "    model: fraud-detector\n",
        "    model: fraud-detectr\n",
        "MLS304",
        at="fraud-detectr",
        hint="did you mean `fraud-detector`?",
    ),
    _ref(
        "unknown-model-in-produces",
        "      fraud-detector: train.model\n",
        "      fraud-detektor: train.model\n",
        "MLS304",
        at="fraud-detektor",
        hint="did you mean `fraud-detector`?",
    ),
    _ref(
        "unknown-alias",
        "    version: champion ",
        "    version: champ ",
        "MLS305",
        at="champ",
        marker="version: champ ",
        hint="did you mean `champion`?",
    ),
    _ref(
        "unknown-version-number",
        "    version: 3\n",
        "    version: 4\n",
        "MLS305",
        at="4",
        message="`4`",
    ),
    _ref(
        "alias-to-missing-version",
        "aliases: {champion: 7, challenger: 8}",
        "aliases: {champion: 7, challenger: 9}",
        "MLS305",
        at="9}",
        message="`9`",
    ),
    _ref(
        "unknown-deployment-in-monitor",
        "    deployment: search-reranker\n",
        "    deployment: search-ranker\n",
        "MLS306",
        at="search-ranker",
        hint="did you mean `search-reranker`?",
    ),
    _ref(
        "unknown-pipeline-in-retrain",
        "onDrift: {retrain: fraud-train}",
        "onDrift: {retrain: fraud-training}",
        "MLS308",
        at="fraud-training",
        hint="did you mean `fraud-train`?",
    ),
    _ref(
        "input-from-unknown-step",
        FINETUNE_INPUTS,
        "inputs: {features: nosuch.output}",
        "MLS307",
        at="nosuch.output",
        message="unknown step `nosuch`",
    ),
    _ref(
        "input-of-unknown-output",
        FINETUNE_INPUTS,
        "inputs: {features: featurize.feature}",
        "MLS307",
        at="featurize.feature}",
        hint="did you mean `features`?",
    ),
    _ref(
        "input-without-output",
        FINETUNE_INPUTS,
        "inputs: {features: featurize}",
        "MLS307",
        at="featurize}",
        message="must be `<step>.<output>`",
    ),
    _ref(
        "step-consumes-its-own-output",
        FINETUNE_INPUTS,
        "inputs: {features: finetune.model}",
        "MLS307",
        at="finetune.model",
        message="cannot consume its own output",
    ),
    _ref(
        "input-in-template-from-unknown-step",
        "inputs: {dataset: prepare.dataset}\n        outputs: {model: Model}",
        "inputs: {dataset: prep.dataset}\n        outputs: {model: Model}",
        "MLS307",
        at="prep.dataset",
        marker="inputs: {dataset: prep.dataset}",
        hint="did you mean `prepare`?",
    ),
    _ref(
        "produces-a-dataset",
        "      search-reranker: finetune.model\n",
        "      search-reranker: featurize.features\n",
        "MLS307",
        at="featurize.features",
        message="`featurize.features` is a Dataset, not a Model",
    ),
    _ref(
        "unknown-params-placeholder",
        FEATURIZE_ARGS,
        FEATURIZE_ARGS.replace("params.corpus_uri", "params.corpus"),
        "MLS309",
        at='"{{ params.corpus }}"',
        hint="did you mean `corpus_uri`?",
    ),
    _ref(
        "unknown-outputs-placeholder",
        FEATURIZE_ARGS,
        FEATURIZE_ARGS.replace("outputs.features", "outputs.feat"),
        "MLS309",
        at='"{{ outputs.feat }}"',
        hint="did you mean `features`?",
    ),
    _ref(
        "stray-version-in-plain-pipeline",
        "image: ghcr.io/acme/search-features:2.0.1",
        'image: "ghcr.io/acme/search-features:{{ version }}"',
        "MLS309",
        at='"ghcr.io',
        message="unknown placeholder '{{ version }}'",
    ),
]


@pytest.mark.parametrize("spec", REFERENCE_CASES)
def test_unresolved_reference_is_refused_where_it_is_written(
    spec: Case, compile_rejects: Rejects
) -> None:
    compile_rejects(spec)


def test_unknown_template_also_warns_that_the_real_template_is_unused(tmp_path: Path) -> None:
    spec = next(p.values[0] for p in REFERENCE_CASES if p.id == "unknown-template")
    outcome = run_cli("validate", write_spec(tmp_path, spec.text), "--format", "json")
    assert outcome.exit_code == 1
    warnings = [d for d in outcome.diagnostics if d["severity"] == "warning"]
    where = position(spec.text, "  tabular-train:", at="tabular-train")
    assert [(d["code"], d["line"], d["column"]) for d in warnings] == [
        ("MLS312", where.line, where.col)
    ]


VERSION_4 = spec_with(replace=[("    version: 3\n", "    version: 4\n")])


def test_unknown_version_hint_names_the_model_correctly(validate_rejects: Rejects) -> None:
    found = validate_rejects(
        Case(VERSION_4, "MLS305", position(VERSION_4, "    version: 4", at="4"))
    )
    assert "search-rerankers" not in (found["hint"] or "")
