"""`mlspec init [DIR]`: a starter platform repository."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.diagnostics import ExitCode


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, force: bool) -> None:
    """Scaffold DIR: platform.yaml (with its JSON Schema for editors), an example policy
    and its test under policies/, and a GitHub workflow that validates, checks, diffs
    and publishes. The result validates and compiles as it stands."""
    from mlspec.scaffold import ScaffoldError
    from mlspec.scaffold import init as scaffold

    try:
        done = scaffold(directory, force)
    except ScaffoldError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(ExitCode.INPUT_ERROR)
    for path in done.written:
        sys.stderr.write(f"wrote {directory / path}\n")
    sys.stderr.write(
        f"next: mlspec validate {directory / 'platform.yaml'} --policy {directory / 'policies'}\n"
    )
