"""`mlspec publish`: commit a compiled tree into the GitOps repository."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.diagnostics import Diagnostic, ExitCode, MlspecError


@click.command()
@click.argument("tree", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--repo", required=True, help="The GitOps repository: a path or a URL.")
@click.option("--branch", default="main", show_default=True, help="The branch to commit to.")
@click.option(
    "--path", "subdir", default="", help="Directory inside the repository (default: root)."
)
@click.option("--message", "-m", default=None, help="Commit title (trailers are added).")
@click.option(
    "--source-commit",
    default=None,
    metavar="SHA",
    help="The spec's commit (default: HEAD of the git repository around the current directory).",
)
@click.option("--source-time", type=int, default=None, help="Its committer time (epoch seconds).")
def publish(
    tree: Path,
    repo: str,
    branch: str,
    subdir: str,
    message: str | None,
    source_commit: str | None,
    source_time: int | None,
) -> None:
    """Commit TREE (the output of `mlspec compile`) into a GitOps repository.

    No commit when nothing changed. A rejected push is fetched, re-applied and
    retried; never forced. Refused (exit 1) when the branch already holds the
    output of a newer spec revision.
    """
    from mlspec.gitops.publish import PublishRefusedError, Source, publish, source_of

    source = source_of(Path.cwd())
    if source_commit is not None:
        source = Source(source_commit, source_time if source_time is not None else 0)
    try:
        result = publish(tree, repo, branch, subdir, message, source)
    except PublishRefusedError as exc:
        sys.stderr.write(f"error[MLS806]: {exc}\n")
        sys.exit(ExitCode.INPUT_ERROR)
    except MlspecError as exc:
        _fail(exc.diagnostic)
    if result.commit is None:
        sys.stderr.write(f"ok: {repo} ({branch}) already holds this tree; no commit\n")
    else:
        sys.stderr.write(f"ok: committed {result.commit[:12]} to {repo} ({branch})\n")


def _fail(diagnostic: Diagnostic) -> None:
    sys.stderr.write(f"error[{diagnostic.code}]: {diagnostic.message}\n")
    sys.exit(ExitCode.TOOL_ERROR)
