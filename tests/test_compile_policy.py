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
