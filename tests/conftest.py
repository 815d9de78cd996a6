"""Shared fixtures: the reference spec and a tree snapshot helper."""

from __future__ import annotations

import ast
import os
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "specs" / "examples" / "platform.yaml"
CONTRACT = ROOT.parent / "shared" / "examples" / "platform.yaml"

Snapshot = dict[str, tuple[int, bytes]]


def snapshot(tree: Path) -> Snapshot:
    """Every entry under ``tree`` (and the tree itself, as "."): relative path -> (mode,
    content or link target)."""
    entries: Snapshot = {".": (tree.lstat().st_mode, b"")}
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(path).encode()
            elif stat.S_ISREG(info.st_mode):
                content = path.read_bytes()
            else:
                content = b""
            entries[path.relative_to(tree).as_posix()] = (info.st_mode, content)
    return entries


def modules_loaded_by_validate(packages: Sequence[str], *options: str) -> list[str]:
    """The modules of ``packages`` (each with its submodules) that a fresh process has
    imported once `mlspec validate` of the reference example passed: what the validate
    path pulls in."""
    code = (
        "import sys\n"
        "from mlspec.cli import main\n"
        "try:\n"
        f"    main(['validate', {str(EXAMPLE)!r}, *{list(options)!r}])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        f"packages = {tuple(packages)!r}\n"
        "below = tuple(package + '.' for package in packages)\n"
        "print(sorted(m for m in sys.modules if m in packages or m.startswith(below)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = ast.literal_eval(done.stdout.splitlines()[-1])
    return loaded


@pytest.fixture
def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


TOOLS = ROOT / ".tools" / "bin"


@pytest.fixture(scope="session")
def kubectl() -> Path:
    """The real kubectl (with kustomize), installed by scripts/install-tools.sh."""
    path = TOOLS / "kubectl"
    if not path.exists():
        pytest.fail("kubectl is missing: run scripts/install-tools.sh (make test does)")
    return path
