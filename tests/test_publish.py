"""`mlspec publish` against real local bare repositories."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlspec.cli import main
from mlspec.gitops.publish import PublishRefusedError, Source, publish
from tests.conftest import EXAMPLE


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    repo = tmp_path / "gitops.git"
    _git("init", "--quiet", "--bare", "-b", "main", str(repo))
    return repo


def _tree(tmp_path: Path, name: str, display_name: str = "Fraud Detection") -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(EXAMPLE.read_text().replace("Fraud Detection", display_name))
    out = tmp_path / name
    result = CliRunner().invoke(
        main, ["compile", str(spec), "--out", str(out), "--compiler", "tenancy"]
    )
    assert result.exit_code == 0, result.output
    return out


def _log(bare: Path) -> list[str]:
    return _git("--git-dir", str(bare), "log", "--format=%H %P", "main").splitlines()


def _file(bare: Path, path: str) -> str:
    return _git("--git-dir", str(bare), "show", f"main:{path}")


def test_first_publish_commits_and_an_unchanged_tree_makes_no_commit(
    tmp_path: Path, bare: Path
) -> None:
    tree = _tree(tmp_path, "a")
    first = publish(tree, str(bare), source=Source("a" * 40, 100))
    assert first.commit is not None
    again = publish(tree, str(bare), source=Source("a" * 40, 100))
    assert again.commit is None
    assert len(_log(bare)) == 1
    message = _git("--git-dir", str(bare), "log", "-1", "--format=%B", "main")
    assert "Mlspec-Spec-Digest: sha256:" in message
    assert f"Mlspec-Source-Commit: {'a' * 40}" in message
    assert "prod/platform/tenants/fraud/namespace-fraud.yaml" in _git(
        "--git-dir", str(bare), "ls-tree", "-r", "--name-only", "main"
    )


def test_publish_keeps_foreign_files_and_writes_under_a_path(tmp_path: Path, bare: Path) -> None:
    clone = tmp_path / "clone"
    _git("clone", "--quiet", str(bare), str(clone))
    (clone / "README.md").write_text("the platform team's repo\n")
    _git("add", "README.md", cwd=clone)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "readme", cwd=clone)
    _git("push", "--quiet", "origin", "HEAD:main", cwd=clone)
    publish(_tree(tmp_path, "a"), str(bare), path="clusters/ml")
    assert _file(bare, "README.md") == "the platform team's repo\n"
    assert "kind: Namespace" in _file(
        bare, "clusters/ml/prod/platform/tenants/fraud/namespace-fraud.yaml"
    )


def test_an_older_spec_is_refused_after_a_newer_one(tmp_path: Path, bare: Path) -> None:
    publish(_tree(tmp_path, "new", "Fraud (new)"), str(bare), source=Source("b" * 40, 200))
    with pytest.raises(PublishRefusedError):
        publish(_tree(tmp_path, "old", "Fraud (old)"), str(bare), source=Source("a" * 40, 100))
    assert "Fraud (new)" in _file(bare, "prod/platform/tenants/fraud/namespace-fraud.yaml")


def test_racing_publishers_end_with_linear_history_and_the_newest_tree(
    tmp_path: Path, bare: Path
) -> None:
    publish(_tree(tmp_path, "base", "Fraud (base)"), str(bare), source=Source("0" * 40, 50))
    trees = {
        "old": (_tree(tmp_path, "old", "Fraud (old)"), Source("a" * 40, 100)),
        "new": (_tree(tmp_path, "new", "Fraud (new)"), Source("b" * 40, 200)),
    }
    outcomes: dict[str, Any] = {}

    def run(name: str) -> None:
        tree, source = trees[name]
        try:
            outcomes[name] = publish(tree, str(bare), source=source)
        except PublishRefusedError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in trees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not isinstance(outcomes["new"], Exception)
    history = _log(bare)
    assert all(len(line.split()) <= 2 for line in history), "a merge commit appeared"
    assert "Fraud (new)" in _file(bare, "prod/platform/tenants/fraud/namespace-fraud.yaml")


def test_publish_command_reports_no_commit_for_an_unchanged_tree(
    tmp_path: Path, bare: Path
) -> None:
    tree = _tree(tmp_path, "a")
    args = ["publish", str(tree), "--repo", str(bare), "--source-commit", "c" * 40]
    first = CliRunner().invoke(main, [*args, "--source-time", "10"])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(main, [*args, "--source-time", "10"])
    assert second.exit_code == 0
    assert "no commit" in second.output
