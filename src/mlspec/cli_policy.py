"""`mlspec policy test`: run the policies' own tests (the ``test_*`` rules)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlspec.cli_options import data_files_option
from mlspec.diagnostics import ExitCode, MlspecError
from mlspec.reporting import reporter_for

if TYPE_CHECKING:
    from mlspec.policy.testing import TestReport

TIMEOUT_HELP = "CPU seconds the whole run may use (default 60); a slower run is an error."


@click.group()
def policy() -> None:
    """Policies as code: the Rego bundle mlspec validate runs."""


@policy.command(name="test")
@click.argument("dirs", nargs=-1, type=click.Path(file_okay=False, exists=True, path_type=Path))
@data_files_option
@click.option("--opa-url", default=None, metavar="URL", help="Run the tests on this OPA server.")
@click.option(
    "--policy-timeout",
    "timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help=TIMEOUT_HELP,
)
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text")
def test_command(
    dirs: tuple[Path, ...],
    data_files: tuple[Path, ...],
    opa_url: str | None,
    timeout: float | None,
    fmt: str,
) -> None:
    """Run the test_* rules of the *_test.rego modules under DIRS (default: the
    built-in bundle, policies/rego), with the policies beside them.

    Exits 0 when every test passes, 1 when one fails, 2 when the tests cannot run.
    """
    from mlspec.policy import DEFAULT_BUNDLE, DEFAULT_TIMEOUT, PolicyOptions
    from mlspec.policy.runner import make_engine
    from mlspec.policy.testing import run_tests

    options = PolicyOptions(opa_url=opa_url, timeout=timeout or DEFAULT_TIMEOUT)
    try:
        report = run_tests(list(dirs) or [DEFAULT_BUNDLE], data_files, make_engine(options))
    except MlspecError as exc:
        stream = sys.stdout if fmt == "json" else sys.stderr
        stream.write(reporter_for(fmt).render([exc.diagnostic], ""))
        sys.exit(ExitCode.TOOL_ERROR)
    sys.stdout.write(_json(report) if fmt == "json" else _text(report))
    sys.exit(ExitCode.OK if report.ok else ExitCode.INPUT_ERROR)


def _text(report: TestReport) -> str:
    from mlspec.policy.testing import PASS, SKIP

    lines = []
    for result in report.results:
        rule = result.rule
        line = f"{rule.location}: {result.status.upper()} {rule.package}.{rule.name}"
        lines.append(line + (f": {result.message}" if result.message else ""))
    failed = len(report.results) - report.count(PASS) - report.count(SKIP)
    summary = f"{report.count(PASS)} passed, {failed} failed"
    lines.append(summary + (f", {report.count(SKIP)} skipped" if report.count(SKIP) else ""))
    return "\n".join(lines) + "\n"


def _json(report: TestReport) -> str:
    from mlspec.policy.testing import ERROR, FAIL, PASS, SKIP

    tests = [
        {
            "package": r.rule.package,
            "name": r.rule.name,
            "status": r.status,
            "message": r.message,
            "file": r.rule.location.file,
            "line": r.rule.location.line,
            "column": r.rule.location.col,
        }
        for r in report.results
    ]
    document = {
        "ok": report.ok,
        "passed": report.count(PASS),
        "failed": report.count(FAIL),
        "errors": report.count(ERROR),
        "skipped": report.count(SKIP),
        "tests": tests,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
