"""`mlspec init`: the starter repository validates, compiles and passes its policy tests."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mlspec.cli import main
from mlspec.spec.schema import schema_text


def test_init_output_validates_compiles_and_passes_policy_tests(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(main, ["init", str(tmp_path)])
    assert made.exit_code == 0, made.output
    spec = tmp_path / "platform.yaml"
    assert spec.read_text().startswith("# yaml-language-server: $schema=platform.schema.json\n")
    assert (tmp_path / "platform.schema.json").read_text() == schema_text()
    assert (tmp_path / ".github" / "workflows" / "mlspec.yml").exists()
    policies = str(tmp_path / "policies")
    validated = runner.invoke(
        main, ["validate", str(spec), "--policy", policies, "--format", "json"]
    )
    assert validated.exit_code == 0, validated.output
    found = json.loads(validated.stdout)["diagnostics"]
    assert [d["message"] for d in found if "team_owners" in d["message"]] == [
        "tenant recsys has fewer than two owners (policy mlspec.team_owners)"
    ]
    compiled = runner.invoke(main, ["compile", str(spec), "--out", str(tmp_path / "gitops")])
    assert compiled.exit_code == 0, compiled.output
    tested = runner.invoke(main, ["policy", "test", policies])
    assert tested.exit_code == 0, tested.output
    assert "2 passed, 0 failed" in tested.output


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "platform.yaml").write_text("mine\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert (tmp_path / "platform.yaml").read_text() == "mine\n"
    assert CliRunner().invoke(main, ["init", str(tmp_path), "--force"]).exit_code == 0
