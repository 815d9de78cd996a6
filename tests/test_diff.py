"""`mlspec diff`: the ML-aware summary, object details and cost delta of a change."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlspec.cli import main
from tests.conftest import EXAMPLE

EDITS = [
    ("aliases: {champion: 7, challenger: 8}", "aliases: {champion: 8, challenger: 8}"),
    ("canary: {version: challenger, traffic: 10}", "canary: {version: challenger, traffic: 25}"),
    ("gpu: {a100-80gb: 8, l4-shared: 4}", "gpu: {a100-80gb: 12, l4-shared: 4}"),
]


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = EXAMPLE.read_text()
    for old, new in EDITS:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path = tmp_path_factory.mktemp("head") / "platform.yaml"
    path.write_text(text)
    return path


def _diff(*args: str) -> str:
    result = CliRunner().invoke(main, ["diff", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def markdown(head: Path) -> str:
    return _diff(str(EXAMPLE), str(head), "--format", "markdown")


def test_markdown_summary_lists_exactly_the_three_changes(markdown: str) -> None:
    summary = markdown.split("**Monthly GPU cost**")[0]
    bullets = [line for line in summary.splitlines() if line.startswith("- ")]
    assert bullets == [
        "- `fraud-detector` champion 7 → 8",
        "- `fraud-scorer` canary traffic 10% → 25% (prod)",
        "- `fraud` GPU quota a100-80gb 8 → 12",
    ]


def test_markdown_shows_the_cost_delta_of_four_a100s(markdown: str) -> None:
    out = markdown
    # 4 GPUs x 730 h x $2.93 = $8,555.60 a month, in both environments
    assert "| prod | fraud | $17,702.50 | $26,258.10 | +$8,555.60 |" in out
    assert "| staging | fraud | $17,702.50 | $26,258.10 | +$8,555.60 |" in out
    assert "| prod | search" not in out


def test_markdown_details_name_the_affected_objects_per_tenant(markdown: str) -> None:
    out = markdown
    assert "<details><summary>prod / fraud: 4 objects</summary>" in out
    assert "spec.canary[0].trafficPercent: 10 → 25" in out
    assert '"s3://acme-models/fraud-detector/7" → "s3://acme-models/fraud-detector/8"' in out
    assert "spec.resourceGroups[1].flavors[0].resources[0].nominalQuota: 8 → 12" in out
    assert "prod / search" not in out  # nothing of the other tenant changed


def test_json_format_carries_objects_and_costs(head: Path) -> None:
    document = json.loads(_diff(str(EXAMPLE), str(head), "--format", "json"))
    assert len(document["summary"]) == 3
    assert {c["tenant"] for c in document["costs"]} == {"fraud"}
    assert all(c["delta"] == 8555.6 for c in document["costs"])
    kinds = {(o["environment"], o["kind"]) for o in document["objects"]}
    assert ("prod", "InferenceService") in kinds and ("staging", "ResourceQuota") in kinds


def test_identical_specs_have_no_changes() -> None:
    out = _diff(str(EXAMPLE), str(EXAMPLE))
    assert "no platform-level change" in out
    assert "No compiled object changes." in out


def test_a_side_can_be_read_from_git(
    tmp_path: Path, head: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "platform.yaml").write_bytes(EXAMPLE.read_bytes())
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "platform.yaml"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
    ):
        subprocess.run(["git", *command], cwd=repo, check=True)
    (repo / "platform.yaml").write_bytes(head.read_bytes())
    monkeypatch.chdir(repo)
    out = _diff("git:HEAD:platform.yaml", "platform.yaml", "--format", "markdown")
    assert "- `fraud-detector` champion 7 → 8" in out


def test_a_side_that_does_not_validate_fails_with_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "platform.yaml"
    broken.write_text(EXAMPLE.read_text().replace("framework: xgboost", "framework: xgbost"))
    result = CliRunner().invoke(main, ["diff", str(EXAMPLE), str(broken)])
    assert result.exit_code == 1
    assert "MLS104" in result.output


def test_policy_results_that_change_are_in_the_summary(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("replicas: {min: 1, max: 4}", "replicas: {min: 2, max: 4}")
    fixed = tmp_path / "platform.yaml"
    fixed.write_text(text)
    out = _diff(str(EXAMPLE), str(fixed), "--format", "markdown")
    assert (
        "- policy no longer warns: deployment search-reranker keeps 1 replica(s) at minimum in "
        "prod: one node drain takes it down (policy mlspec.production)"
    ) in out
