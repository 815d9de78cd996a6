"""`mlspec diff BASE HEAD`: the semantic diff of two specs, for reviews."""

from __future__ import annotations

import sys

import click

from mlspec.diagnostics import Diagnostic, ExitCode, MlspecError


@click.command()
@click.argument("base")
@click.argument("head")
@click.option(
    "--env", "environments", multiple=True, metavar="NAME", help="Only these environments."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "markdown", "json")),
    default="text",
    help="text, markdown (for a pull-request comment) or json.",
)
def diff(base: str, head: str, environments: tuple[str, ...], fmt: str) -> None:
    """Compile BASE and HEAD and show what changes, object by object.

    Each side is a spec file or git:<ref>:<path> (e.g. git:origin/main:platform.yaml).
    On top: alias moves, canary, replica and GPU changes, quotas, pipelines and the
    monthly GPU cost per tenant.
    """
    from mlspec.reporting import TextReporter
    from mlspec.review.diff import read_side
    from mlspec.review.report import RENDERERS, diff_specs

    try:
        result, old, new = diff_specs(read_side(base), read_side(head), environments)
    except MlspecError as exc:
        _fail(exc.diagnostic)
    if result is None:
        sys.stderr.write(TextReporter().render(old.diagnostics + new.diagnostics, ""))
        sys.exit(ExitCode.INPUT_ERROR)
    sys.stdout.write(RENDERERS[fmt](result))


def _fail(diagnostic: Diagnostic) -> None:
    sys.stderr.write(f"error[{diagnostic.code}]: {diagnostic.message}\n")
    sys.exit(ExitCode.TOOL_ERROR)
