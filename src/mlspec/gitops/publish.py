"""`mlspec publish`: commit a compiled tree into a GitOps repository (RELIABILITY rule 9).

We drive the git CLI rather than a library: it is on every CI runner, speaks every
transport and credential helper the user already configured, and its push
semantics (non-fast-forward rejection) are exactly the contract we rely on.

    clone the branch -> lay the tree at --path (the atomic writer: owned files only)
    -> nothing staged? done, no commit -> commit with trailers -> push
    -> rejected? fetch, reset to the new tip, check the spec is still the newest,
       lay the tree again and retry (bounded). Never force.

Each commit carries trailers: ``Mlspec-Spec-Digest`` and, when known, the source
commit and its time. A publish whose source is older than the one already on the
branch is refused, so a slow CI job can never roll the platform back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.output.writer import WriteError, read_owned_manifest, write_tree

TRAILER_DIGEST = "Mlspec-Spec-Digest"
TRAILER_COMMIT = "Mlspec-Source-Commit"
TRAILER_TIME = "Mlspec-Source-Time"
DEFAULT_AUTHOR = ("mlspec", "mlspec@users.noreply.mlspec.dev")


@dataclass(frozen=True)
class Source:
    """The revision of the spec that the tree was compiled from."""

    commit: str
    time: int  # committer time, seconds since the epoch


@dataclass(frozen=True)
class Published:
    commit: str | None  # None when nothing changed
    attempts: int


class PublishRefusedError(Exception):
    """The branch already holds the output of a newer spec revision."""


def publish(
    tree: Path,
    repo: str,
    branch: str = "main",
    path: str = "",
    message: str | None = None,
    source: Source | None = None,
    max_attempts: int = 5,
) -> Published:
    files, manifest = _read_tree(tree)
    work = Path(tempfile.mkdtemp(prefix="mlspec-publish-"))
    try:
        checkout = _clone(repo, branch, work / "repo")
        for attempt in range(1, max_attempts + 1):
            _refuse_if_older(checkout, source)
            _lay_tree(checkout, path, files, manifest)
            if not _stage(checkout, path):
                return Published(None, attempt)
            commit = _commit(checkout, _message(message, manifest, source))
            if _push(checkout, branch):
                return Published(commit, attempt)
            _catch_up(checkout, branch)
        raise _tool_error(f"push to {repo} was rejected {max_attempts} times; giving up")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_tree(tree: Path) -> tuple[dict[str, bytes], dict[str, object]]:
    manifest = read_owned_manifest(tree)
    if manifest is None:
        raise _tool_error(f"{tree} is not a tree compiled by mlspec (no manifest.json)")
    owned = manifest.pop("files", {})
    assert isinstance(owned, dict)
    try:
        return {path: (tree / path).read_bytes() for path in sorted(owned)}, manifest
    except OSError as exc:
        raise _tool_error(f"cannot read {tree}: {exc}") from exc


def _git(checkout: Path | None, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["git", *(["-C", str(checkout)] if checkout else []), *args]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if check and done.returncode != 0:
        raise _tool_error(f"`git {' '.join(args)}` failed: {done.stderr.strip()[:500]}")
    return done


def _clone(repo: str, branch: str, checkout: Path) -> Path:
    heads = _git(None, "ls-remote", "--heads", repo, branch).stdout.strip()
    if heads:
        _git(None, "clone", "--quiet", "--branch", branch, "--single-branch", repo, str(checkout))
    else:  # a new branch (or an empty repository): start from an empty history
        _git(None, "init", "--quiet", "-b", branch, str(checkout))
        _git(checkout, "remote", "add", "origin", repo)
    return checkout


def _lay_tree(
    checkout: Path, path: str, files: dict[str, bytes], manifest: dict[str, object]
) -> None:
    try:
        write_tree(checkout / path if path else checkout, files, manifest)
    except WriteError as exc:
        raise _tool_error(f"cannot lay the tree into the repository: {exc}") from exc


def _stage(checkout: Path, path: str) -> bool:
    """Stage the tree; True when there is something to commit."""
    _git(checkout, "add", "--all", "--", path or ".")
    return _git(checkout, "diff", "--cached", "--quiet", check=False).returncode != 0


def _message(message: str | None, manifest: dict[str, object], source: Source | None) -> str:
    environments = manifest.get("environments", {})
    assert isinstance(environments, dict)
    digests = sorted(
        {str(env.get("spec")) for env in environments.values() if isinstance(env, dict)}
    )
    trailers = [f"{TRAILER_DIGEST}: {digest}" for digest in digests]
    if source is not None:
        trailers += [f"{TRAILER_COMMIT}: {source.commit}", f"{TRAILER_TIME}: {source.time}"]
    title = message or f"mlspec: compile {manifest.get('spec', 'platform')}"
    return title + "\n\n" + "\n".join(trailers) + "\n"


def _commit(checkout: Path, message: str) -> str:
    name, email = DEFAULT_AUTHOR
    identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    if _git(checkout, "config", "user.email", check=False).stdout.strip():
        identity = []
    done = subprocess.run(
        ["git", "-C", str(checkout), *identity, "commit", "--quiet", "--no-verify", "-F", "-"],
        input=message,
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    if done.returncode != 0:
        raise _tool_error(f"git commit failed: {done.stderr.strip()[:500]}")
    return _git(checkout, "rev-parse", "HEAD").stdout.strip()


def _push(checkout: Path, branch: str) -> bool:
    """Push without force; False when the remote moved on (non-fast-forward)."""
    done = _git(checkout, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", check=False)
    if done.returncode == 0:
        return True
    rejected = ("non-fast-forward", "fetch first", "rejected", "stale info")
    if any(word in done.stderr for word in rejected):
        return False
    raise _tool_error(f"git push failed: {done.stderr.strip()[:500]}")


def _catch_up(checkout: Path, branch: str) -> None:
    _git(checkout, "fetch", "--quiet", "origin", branch)
    _git(checkout, "reset", "--quiet", "--hard", "FETCH_HEAD")


def _refuse_if_older(checkout: Path, source: Source | None) -> None:
    if (
        source is None
        or _git(checkout, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode
    ):
        return
    published = _published_source(checkout)
    if published is not None and published.time > source.time and published.commit != source.commit:
        raise PublishRefusedError(
            f"the branch holds output of a newer spec revision ({published.commit[:12]}, "
            f"time {published.time}) than this one ({source.commit[:12]}, time {source.time})"
        )


def _published_source(checkout: Path) -> Source | None:
    fmt = "%x00".join(
        f"%(trailers:key={key},valueonly,separator=)" for key in (TRAILER_COMMIT, TRAILER_TIME)
    )
    log = _git(checkout, "log", f"--format={fmt}", "-n", "50").stdout
    for line in log.splitlines():
        commit, _, time = line.partition("\x00")
        if commit.strip() and time.strip().isdigit():
            return Source(commit.strip(), int(time.strip()))
    return None


def source_of(directory: Path) -> Source | None:
    """The HEAD commit of the git repository holding ``directory``, if any."""
    done = _git(directory, "log", "-1", "--format=%H %ct", check=False)
    fields = done.stdout.split()
    if done.returncode != 0 or len(fields) != 2:
        return None
    return Source(fields[0], int(fields[1]))


def _tool_error(message: str) -> MlspecError:
    return MlspecError(Diagnostic("MLS906", message))
