"""`mlspec compile` runs the policies: a deny writes nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mlspec.cli import main
from tests.conftest import EXAMPLE, snapshot


def test_a_policy_deny_stops_the_compile_and_keeps_the_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["compile", str(EXAMPLE), "--out", str(out)]).exit_code == 0
    before = snapshot(out)
    spec = tmp_path / "platform.yaml"
    text = EXAMPLE.read_text()
    assert text.count("ghcr.io/acme/search-features:2.0.1") == 1
    spec.write_text(
        text.replace("ghcr.io/acme/search-features:2.0.1", "ghcr.io/acme/search-features:latest")
    )
    result = runner.invoke(main, ["compile", str(spec), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "latest" in result.output and "error[MLS70" in result.output
    assert snapshot(out) == before
    skipped = runner.invoke(main, ["compile", str(spec), "--out", str(out), "--no-policy"])
    assert skipped.exit_code == 0, skipped.output


def test_compile_reads_the_policy_data_and_budget_as_validate_does(tmp_path: Path) -> None:
    """`--data` and `--policy-timeout` mean the same to compile as to validate: a
    setting that makes staging a production environment brings production's rules."""
    settings = tmp_path / "settings.yaml"
    settings.write_text("settings:\n  productionEnvironments: [prod, staging]\n")
    out = tmp_path / "out"
    runner = CliRunner()
    plain = runner.invoke(main, ["compile", str(EXAMPLE), "--out", str(out)])
    assert plain.exit_code == 0, plain.output
    assert "(environment staging)" not in plain.output
    ruled = runner.invoke(
        main, ["compile", str(EXAMPLE), "--out", str(out), "--data", str(settings)]
    )
    assert ruled.exit_code == 0, ruled.output
    assert "in staging: one node drain takes it down" in ruled.output
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "slow.rego").write_text(
        "package mlspec.slow\n\nimport rego.v1\n\n"
        'deny contains "x" if {\n\tcount([n | some n in numbers.range(1, 100000000)]) < 0\n}\n'
    )
    before = snapshot(out)
    args = ["compile", str(EXAMPLE), "--out", str(out), "--policy", str(slow)]
    timed_out = runner.invoke(main, [*args, "--policy-timeout", "0.5"])
    assert timed_out.exit_code == 2, timed_out.output
    assert "error[MLS714]: policy evaluation timed out after 0.5 s of CPU time" in timed_out.output
    assert snapshot(out) == before
