"""The `mlspec` command line: parse options, call the api, report, exit.

Exit codes: 0 success, 1 the input is wrong, 2 mlspec could not do its job.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mlspec import __version__
from mlspec.cli_options import (
    data_files_option,
    no_policy_option,
    opa_url_option,
    policy_dirs_option,
    policy_timeout_option,
)
from mlspec.diagnostics import Diagnostic, ExitCode, MlspecError, has_errors
from mlspec.gcpause import collection_paused
from mlspec.reporting import FORMATS, reporter_for

if TYPE_CHECKING:
    from mlspec.policy import PolicyReport
    from mlspec.spec.frontend import SpecFile

ENV_HELP = "Environment to use (repeatable). Default: every environment in the spec."
FORMAT_HELP = (
    "Diagnostics format: text (colour on a terminal), json, github (workflow annotations) "
    "or sarif (code scanning)."
)


def _report(diagnostics: Sequence[Diagnostic], summary: str, fmt: str) -> None:
    stream = sys.stdout if fmt in ("json", "github", "sarif") else sys.stderr
    text = reporter_for(fmt, colour=stream.isatty()).render(diagnostics, summary)
    stream.write(text)


def _exit(diagnostics: Sequence[Diagnostic]) -> NoReturn:
    sys.exit(ExitCode.INPUT_ERROR if has_errors(diagnostics) else ExitCode.OK)


def _guarded(fmt_option: str = "fmt") -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Turn MlspecError into exit code 2 with a diagnostic, and bugs into a short report."""

    def wrap(command: Callable[..., None]) -> Callable[..., None]:
        def run(**kwargs: Any) -> None:
            fmt = kwargs.get(fmt_option, "text")
            try:
                command(**kwargs)
            except MlspecError as exc:
                _report([exc.diagnostic], "", fmt)
                sys.exit(ExitCode.TOOL_ERROR)
            except (RecursionError, MemoryError) as exc:
                message = f"input too large or too deep to process ({type(exc).__name__})"
                _report([Diagnostic("MLS904", message)], "", fmt)
                sys.exit(ExitCode.TOOL_ERROR)

        run.__name__ = command.__name__
        run.__doc__ = command.__doc__
        return run

    return wrap


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlspec")
def main() -> None:
    """mlspec compiles one platform.yaml into a deterministic GitOps tree.

    \b
    mlspec init                          scaffold a platform repository
    mlspec validate platform.yaml        check the spec and its policies (file:line:col)
    mlspec compile platform.yaml --out gitops/
                                         write one tree per environment
    mlspec diff git:origin/main:platform.yaml platform.yaml
                                         what a change does, with its GPU cost
    mlspec publish gitops/ --repo URL    commit the tree to the GitOps repository
    """


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--env", "environments", multiple=True, metavar="NAME", help=ENV_HELP)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", help=FORMAT_HELP)
@policy_dirs_option
@data_files_option
@no_policy_option
@click.option("--fail-on-warn", is_flag=True, help="Exit 1 when there is any warning.")
@opa_url_option
@policy_timeout_option
@_guarded()
def validate(
    spec: Path,
    environments: tuple[str, ...],
    fmt: str,
    policy_dirs: tuple[Path, ...],
    data_files: tuple[Path, ...],
    no_policy: bool,
    fail_on_warn: bool,
    opa_url: str | None,
    policy_timeout: float | None,
) -> None:
    """Check SPEC: YAML, schema, references and templates, for every environment;
    then run the policies (policies/rego, and --policy DIRs) on the valid spec.

    Exits 0 when the spec is valid (warnings allowed), 1 when it is not or a policy
    denies it, 2 when mlspec could not run (a policy that fails to load or evaluate
    too). Never imports kfp or mlflow.
    """
    with _importing():
        from mlspec.policy import DEFAULT_TIMEOUT, PolicyOptions
        from mlspec.spec.frontend import SpecFile
        from mlspec.validation import validate as validate_spec  # not api: no compilers

    options = PolicyOptions(policy_dirs, data_files, opa_url, policy_timeout or DEFAULT_TIMEOUT)
    result = validate_spec(SpecFile.read(spec), environments, None if no_policy else options)
    summary = ""
    if result.ok:
        summary = f"ok: {spec} is valid (environments: {', '.join(result.environments)})"
        summary += _policy_summary(result.policy)
    if result.ok and fail_on_warn and result.diagnostics:
        summary = f"failed: {spec} has warnings (--fail-on-warn)"
    _report(result.diagnostics, summary, fmt)
    if fail_on_warn and result.diagnostics:
        sys.exit(ExitCode.INPUT_ERROR)
    _exit(result.diagnostics)


@contextmanager
def _importing() -> Iterator[None]:
    """Import without the garbage collector, then keep what was imported out of its way.

    Imports create ~35,000 objects (pydantic models, click, PyYAML) that live as long as
    the process and leave next to no garbage; collecting while they are created walks
    them over and over (~20-40 ms of a validate). gc.freeze() then spares every later
    collection from walking them again. Only in a process of our own (see `run`): a
    test or a host program that calls `main` keeps its collector as it was.
    """
    if not _own_process:
        yield
        return
    with collection_paused():
        try:
            yield
        finally:
            gc.freeze()


def _policy_summary(report: PolicyReport | None) -> str:
    if report is None:
        return "; policies skipped"
    text = f"; policies: {len(report.packages)} packages"
    if report.excepted:
        text += f", {report.excepted} result{'s' if report.excepted > 1 else ''} excepted"
    return text


@main.command(name="compile")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory; replaced atomically, files mlspec does not own are kept.",
)
@click.option("--env", "environments", multiple=True, metavar="NAME", help=ENV_HELP)
@click.option(
    "--compiler",
    "compilers",
    multiple=True,
    metavar="NAME",
    help="Run only this compiler (repeatable). Default: every installed compiler.",
)
@click.option("--allow-empty", is_flag=True, help="Accept a spec that compiles to no objects.")
@click.option(
    "--select",
    "-s",
    "select",
    multiple=True,
    metavar="SELECTOR",
    help="Rewrite only the selected nodes' files, keep the rest of OUT as it was "
    "(e.g. 'tenant:fraud', 'state:modified+'; see `mlspec graph --help`).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 listing the files where OUT differs from what SPEC compiles to.",
)
@policy_dirs_option
@data_files_option
@no_policy_option
@opa_url_option
@policy_timeout_option
@click.option(
    "--timings",
    is_flag=True,
    help="Print the time each stage took, in any process (to stderr).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", help=FORMAT_HELP)
@_guarded()
def compile_command(
    spec: Path,
    out: Path,
    environments: tuple[str, ...],
    compilers: tuple[str, ...],
    allow_empty: bool,
    select: tuple[str, ...],
    check: bool,
    policy_dirs: tuple[Path, ...],
    data_files: tuple[Path, ...],
    no_policy: bool,
    opa_url: str | None,
    policy_timeout: float | None,
    timings: bool,
    fmt: str,
) -> None:
    """Validate SPEC, run the policies, and compile it into OUT/<environment>/...

    On any error (a policy deny included) nothing is written: OUT stays byte-identical.
    """
    from mlspec import api
    from mlspec.policy import DEFAULT_TIMEOUT, PolicyOptions
    from mlspec.spec.frontend import SpecFile
    from mlspec.timing import recording, render

    if check:
        _check_drift(SpecFile.read(spec), out, environments, fmt)
    selector = " ".join(select) or None
    timeout = policy_timeout or DEFAULT_TIMEOUT
    policy = None if no_policy else PolicyOptions(policy_dirs, data_files, opa_url, timeout)
    with recording() as stages:
        result = api.compile_to(
            SpecFile.read(spec), out, environments, compilers, allow_empty, selector, policy
        )
    if timings:
        sys.stderr.write(render(stages))
    summary = ""
    if result.written is not None:
        state = "written" if result.written.changed else "unchanged"
        summary = f"ok: {len(result.files)} files {state} in {out}"
    _report(result.diagnostics, summary, fmt)
    _exit(result.diagnostics)


def _check_drift(spec: SpecFile, out: Path, environments: tuple[str, ...], fmt: str) -> NoReturn:
    from mlspec import api

    compiled, changes = api.drift(spec, out, environments)
    diagnostics = list(compiled.diagnostics)
    if changes:
        listing = "\n  ".join(changes)
        message = f"{out} differs from what {spec.display} compiles to:\n  {listing}"
        hint = f"run `mlspec compile {spec.display} --out {out}` and commit the result"
        diagnostics.append(Diagnostic("MLS805", message, hint=hint))
    summary = "" if diagnostics else f"ok: {out} is up to date"
    _report(diagnostics, summary, fmt)
    _exit(diagnostics)


@main.command()
def schema() -> None:
    """Print the JSON Schema of platform.yaml (for editors and CI)."""
    from mlspec.spec.schema import schema_text

    sys.stdout.write(schema_text())


# Commands that live in their own modules register here, one line each. Those modules
# must stay cheap to import: heavy dependencies are imported inside the commands.
from mlspec.cli_diff import diff  # noqa: E402
from mlspec.cli_graph import capacity, explain, graph  # noqa: E402
from mlspec.cli_init import init  # noqa: E402
from mlspec.cli_policy import policy  # noqa: E402
from mlspec.cli_publish import publish  # noqa: E402
from mlspec.cli_registry import registry  # noqa: E402

for _command in (capacity, diff, explain, graph, init, policy, publish, registry):
    main.add_command(_command)


_own_process = False  # set by `run`: this process runs the command line and nothing else


def run() -> None:
    """Entry point with a last-resort guard: a bug prints a short report and exits 2."""
    global _own_process  # one flag, written here only
    _own_process = True
    _without_pydantic_plugins()
    try:
        main()
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        sys.stderr.write("mlspec: internal error (a bug); please report it with the trace above\n")
        sys.exit(ExitCode.TOOL_ERROR)
    finally:
        _quick_shutdown()


def _without_pydantic_plugins() -> None:
    """The command line builds its models without pydantic plugins (observability hooks
    it has no use for): looking for them reads the entry points of every installed
    distribution, ~50 ms of each run with kfp and mlflow installed. A user who sets
    PYDANTIC_DISABLE_PLUGINS (even to "") decides for themselves."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def _quick_shutdown() -> None:
    """The command is done: spare the interpreter's shutdown its garbage collections.

    At exit CPython collects several times over every object still alive (~40,000
    after a validate: the models, click, PyYAML), ~0.1 s of each run. gc.freeze() takes
    them out of the collector's sight: what only a collection would free (cycles) is
    left to the operating system, which reclaims it with the process. atexit handlers
    (the policy sandbox's) and weakref finalizers (temporary directories) still run:
    they come before those collections, and files are closed where they are written.
    """
    gc.freeze()
