"""`mlspec registry plan|apply`: make MLflow's model registry hold what the spec says.

Exit codes: 0 success; 1 the input is wrong (spec errors, conflicts with the registry,
MLflow refused a change); 2 mlspec could not do its job (MLflow unreachable, I/O, usage);
3 (``plan --detailed-exitcode``) changes are pending. Cheap to import: MLflow is loaded by
the commands, through `mlspec.registry.reconcile.open_registry`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from mlspec.diagnostics import Diagnostic, ExitCode, MlspecError, has_errors
from mlspec.reporting import reporter_for

if TYPE_CHECKING:
    from mlspec.registry.mlflow_client import MlflowRegistry
    from mlspec.registry.plan import Plan
    from mlspec.registry.reconcile import Prepared

CHANGES_PENDING = 3
PLAN_FORMATS = ("text", "json")


@click.group(name="registry")
def registry() -> None:
    """Reconcile the MLflow model registry with the spec: plan, then apply.

    \b
    mlspec registry plan platform.yaml --env prod      what would change
    mlspec registry apply platform.yaml --env prod     make it so
    """


def _common(command: Callable[..., None]) -> Callable[..., None]:
    options = [
        click.argument("spec", type=click.Path(dir_okay=False, path_type=Path)),
        click.option("--env", required=True, metavar="NAME", help="The environment to reconcile."),
        click.option(
            "--tracking-uri",
            metavar="URI",
            help="MLflow tracking URI; overrides the spec's registry.mlflow.trackingUri "
            "(default when neither is set: sqlite:///mlruns.db in the current directory).",
        ),
        click.option(
            "--format", "fmt", type=click.Choice(PLAN_FORMATS), default="text", help="Output."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@registry.command(name="plan")
@_common
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when in sync, 3 when changes are pending."
)
def plan_command(
    spec: Path, env: str, tracking_uri: str | None, fmt: str, detailed_exitcode: bool
) -> None:
    """Show the changes that would make MLflow's registry match SPEC's environment."""
    _guarded(fmt, lambda: _plan_only(spec, env, tracking_uri, fmt, detailed_exitcode))


@registry.command(name="apply")
@_common
@click.option("--dry-run", is_flag=True, help="Only show the plan (the same as `plan`).")
@click.option(
    "--auto-approve", is_flag=True, help="Apply without asking (required when not on a terminal)."
)
@click.option("--workers", type=click.IntRange(1, 64), help="Models reconciled in parallel.")
def apply_command(
    spec: Path,
    env: str,
    tracking_uri: str | None,
    fmt: str,
    dry_run: bool,
    auto_approve: bool,
    workers: int | None,
) -> None:
    """Make MLflow's registry match SPEC's environment: idempotent, resumable, and only
    touching registered models mlspec owns."""
    if dry_run:
        _guarded(fmt, lambda: _plan_only(spec, env, tracking_uri, fmt, False))
    else:
        _guarded(fmt, lambda: _apply(spec, env, tracking_uri, fmt, auto_approve, workers))


# --- the work ---------------------------------------------------------------------------


def _plan_only(spec: Path, env: str, uri: str | None, fmt: str, detailed: bool) -> NoReturn:
    prepared, _, current, diagnostics = _planned(spec, env, uri, fmt)
    _show(prepared, current, diagnostics, fmt)
    if has_errors(diagnostics):
        sys.exit(ExitCode.INPUT_ERROR)
    sys.exit(CHANGES_PENDING if detailed and not current.in_sync else ExitCode.OK)


def _apply(
    spec: Path, env: str, uri: str | None, fmt: str, approved: bool, workers: int | None
) -> NoReturn:
    from mlspec.registry import reconcile
    from mlspec.registry.render import render_json

    prepared, registry, current, diagnostics = _planned(spec, env, uri, fmt)
    if fmt == "text":
        _show(prepared, current, diagnostics, fmt)
    if not current.in_sync and not approved:
        _confirm(len(current.actions), fmt)
    applied = reconcile.apply(prepared, registry, current, workers)
    result = applied.result
    problems = list(applied.diagnostics)
    if result.unavailable is not None:
        problems.append(_unavailable(prepared, result.unavailable))
    if fmt == "json":
        counts = {"done": len(result.done), "planned": result.planned, "not_run": result.not_run}
        everything = [*diagnostics, *problems]
        sys.stdout.write(render_json(current, prepared.header(), everything, counts))
    elif not current.in_sync:
        not_run = f", {result.not_run} not run" if result.not_run else ""
        summary = f"Apply finished: {len(result.done)} of {result.planned} changes made{not_run}."
        _report(problems, summary, fmt)
    if result.unavailable is not None:
        sys.exit(ExitCode.TOOL_ERROR)
    sys.exit(ExitCode.INPUT_ERROR if has_errors([*diagnostics, *problems]) else ExitCode.OK)


def _planned(
    spec: Path, env: str, uri: str | None, fmt: str
) -> tuple[Prepared, MlflowRegistry, Plan, list[Diagnostic]]:
    """Validate, connect, read, diff. Exits 1 on spec errors, 2 when MLflow is unusable."""
    from mlspec.registry import reconcile
    from mlspec.registry.apply import RegistryUnavailableError
    from mlspec.spec.frontend import SpecFile

    prepared = reconcile.prepare(SpecFile.read(spec), env, uri)
    if not prepared.ok:
        _report(prepared.diagnostics, "", fmt)
        sys.exit(ExitCode.INPUT_ERROR)
    try:
        registry = reconcile.open_registry(prepared)
        current, diagnostics = reconcile.plan(prepared, registry)
    except RegistryUnavailableError as exc:
        _report([*prepared.diagnostics, _unavailable(prepared, str(exc))], "", fmt)
        sys.exit(ExitCode.TOOL_ERROR)
    return prepared, registry, current, diagnostics


def _confirm(changes: int, fmt: str) -> None:
    if not sys.stdin.isatty():
        message = "not applying: no terminal to confirm on"
        hint = "review the plan, then pass --auto-approve"
        _report([Diagnostic("MLS951", message, hint=hint)], "", fmt)
        sys.exit(ExitCode.TOOL_ERROR)
    if not click.confirm(f"Make these {changes} changes?", err=True):
        click.echo("Apply cancelled.", err=True)
        sys.exit(ExitCode.OK)


# --- output -------------------------------------------------------------------------------


def _show(prepared: Prepared, current: Plan, diagnostics: Sequence[Diagnostic], fmt: str) -> None:
    """The plan on stdout; in text, the diagnostics on stderr."""
    from mlspec.registry.render import render_json, render_text

    if fmt == "json":
        sys.stdout.write(render_json(current, prepared.header(), diagnostics))
    else:
        sys.stdout.write(render_text(current, prepared.header()))
        _report(diagnostics, "", fmt)


def _report(diagnostics: Sequence[Diagnostic], summary: str, fmt: str) -> None:
    if fmt == "json" and not diagnostics and not summary:
        return
    stream = sys.stdout if fmt == "json" else sys.stderr
    stream.write(reporter_for(fmt, colour=stream.isatty()).render(diagnostics, summary))


def _unavailable(prepared: Prepared, why: str) -> Diagnostic:
    uri = prepared.header().tracking_uri
    return Diagnostic(
        "MLS950",
        f"cannot use the MLflow registry at {uri}: {why}",
        hint="check --tracking-uri (or registry.mlflow.trackingUri) and that MLflow is up",
    )


def _guarded(fmt: str, work: Callable[[], NoReturn]) -> NoReturn:
    """MlspecError (I/O) exits 2 with its diagnostic, like the other commands."""
    try:
        work()
    except MlspecError as exc:
        _report([exc.diagnostic], "", fmt)
        sys.exit(ExitCode.TOOL_ERROR)
