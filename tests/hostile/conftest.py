"""Helpers for the hostile-input suite.

Every case is a spec text (usually the reference spec with one edit), written to a
temporary file and run through the real CLI: in-process with click's CliRunner for
speed, a few through ``python -m mlspec`` to prove the real exit code. Each case says
which diagnostic it expects and where; the position is computed from the text the
test wrote (the line holding a marker string), never hard-coded.

Most cases run ``mlspec compile`` against an output tree compiled from the good
reference spec, and prove that the tree is byte-identical (and mode-identical)
afterwards.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlspec.cli import main
from tests.conftest import Snapshot, snapshot

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "specs" / "examples" / "platform.yaml"
SPEC_NAME = "platform.yaml"

# --------------------------------------------------------------------------- spec text


@functools.cache
def reference_text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def spec_with(
    replace: Iterable[tuple[str, str]] = (), append: str = "", base: str | None = None
) -> str:
    """The reference spec (or ``base``) with each ``old`` -> ``new`` edit, then ``append``.

    Each ``old`` must occur exactly once, so that an edit never lands somewhere unexpected
    when the reference spec changes.
    """
    text = reference_text() if base is None else base
    for old, new in replace:
        count = text.count(old)
        assert count == 1, f"{old!r} occurs {count} times in the spec, expected exactly once"
        text = text.replace(old, new)
    return text + append


def position(text: str, marker: str, at: str | None = None, after: str | None = None) -> Loc:
    """1-based (line, col) of ``at`` (default: ``marker``) on the line holding ``marker``.

    The marker must be on exactly one line, unless ``after`` is given: then the first
    line holding ``marker`` below the (one) line holding ``after`` is taken.
    """
    lines = text.split("\n")
    start = 0
    if after is not None:
        anchors = [i for i, line in enumerate(lines) if after in line]
        assert len(anchors) == 1, f"{after!r} is on {len(anchors)} lines, expected one"
        start = anchors[0] + 1
    hits = [i for i in range(start, len(lines)) if marker in lines[i]]
    if after is None:
        assert len(hits) == 1, f"{marker!r} is on {len(hits)} lines, expected one"
    assert hits, f"{marker!r} not found"
    line = lines[hits[0]]
    needle = marker if at is None else at
    assert needle in line, f"{needle!r} is not on the line {line!r}"
    return Loc(hits[0] + 1, line.index(needle) + 1)


@dataclass(frozen=True)
class Loc:
    line: int
    col: int


@dataclass(frozen=True)
class Case:
    """A hostile input and the one diagnostic it must produce.

    ``also``: other error codes that may accompany the expected one (a renamed required
    field is both unknown and missing); any other error code fails the case.
    """

    text: str | bytes
    code: str
    where: Loc
    also: tuple[str, ...] = ()
    hint: str | None = None  # a substring the hint must contain
    message: str | None = None  # a substring the message must contain
    env: tuple[str, ...] = ()


def case(
    case_id: str,
    text: str | bytes,
    code: str,
    where: Loc,
    *,
    also: Sequence[str] = (),
    hint: str | None = None,
    message: str | None = None,
    env: Sequence[str] = (),
    marks: Any = (),
) -> Any:
    """A ``pytest.param`` holding a `Case`, with a readable id."""
    found = Case(text, code, where, tuple(also), hint, message, tuple(env))
    return pytest.param(found, id=case_id, marks=marks)


# ------------------------------------------------------------------------ running mlspec


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    @functools.cached_property
    def report(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.report["diagnostics"]
        return found

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [d for d in self.diagnostics if d["severity"] == "error"]

    def codes(self) -> list[str]:
        return [d["code"] for d in self.errors]

    def describe(self) -> str:
        shown = [
            f"{d['code']} {d['line']}:{d['column']} {d['message']} (hint: {d['hint']})"
            for d in (self.diagnostics if self.stdout.startswith("{") else [])
        ]
        return "\n".join([f"exit {self.exit_code}", *shown, self.stderr[-2000:]])


def run_cli(*args: str | os.PathLike[str]) -> Outcome:
    """Run ``mlspec ARGS`` in-process."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    exception = result.exception
    if isinstance(exception, SystemExit):
        exception = None
    return Outcome(result.exit_code, result.stdout, result.stderr, exception)


# Specs to validate in real processes (``python -m mlspec``), registered by the test modules
# at import time. They all start at the beginning of the session and run in the background,
# on the cores the single-threaded test process leaves idle: each start-up takes ~1 s.
_PROCESS_SPECS: dict[str, tuple[str | bytes, int | None]] = {}


def in_real_process(name: str, text: str | bytes, memory_limit: int | None = None) -> str:
    """Register ``text`` to be validated by ``python -m mlspec``; returns ``name``.

    ``memory_limit`` caps the process's address space (bytes), so that an allocation bomb
    fails fast with MemoryError on any machine instead of swapping or meeting the OOM killer.
    """
    assert name not in _PROCESS_SPECS, f"{name} is registered twice"
    _PROCESS_SPECS[name] = (text, memory_limit)
    return name


class RealProcesses:
    """The registered specs, each validated by its own ``python -m mlspec`` process."""

    def __init__(self, directory: Path) -> None:
        self._running: dict[str, tuple[Path, subprocess.Popen[bytes], Path, Path]] = {}
        for index, (name, (text, memory_limit)) in enumerate(sorted(_PROCESS_SPECS.items())):
            work = directory / str(index)
            work.mkdir()
            path = write_spec(work, text)
            stdout, stderr = work / "stdout", work / "stderr"
            with stdout.open("wb") as out, stderr.open("wb") as err:
                process = subprocess.Popen(
                    [sys.executable, "-m", "mlspec", "validate", str(path), "--format", "json"],
                    stdout=out,
                    stderr=err,
                    preexec_fn=functools.partial(_limit_memory, memory_limit),
                )
            self._running[name] = (path, process, stdout, stderr)

    def outcome(self, name: str, timeout: float = 120) -> tuple[str, Outcome]:
        """The spec's path as passed to mlspec, and how the process ended."""
        path, process, stdout, stderr = self._running[name]
        process.wait(timeout=timeout)
        text = Outcome(
            process.returncode,
            stdout.read_text(encoding="utf-8"),
            stderr.read_text(encoding="utf-8"),
        )
        return str(path), text

    def stop(self) -> None:
        for _, process, _, _ in self._running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def _limit_memory(limit: int | None) -> None:
    if limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.fixture(scope="session", autouse=True)
def real_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealProcesses]:
    processes = RealProcesses(tmp_path_factory.mktemp("processes"))
    yield processes
    processes.stop()


def assert_no_crash(outcome: Outcome) -> None:
    assert outcome.exception is None, f"mlspec raised {outcome.exception!r}"
    assert "Traceback" not in outcome.stdout + outcome.stderr, outcome.describe()
    assert "internal error" not in outcome.stdout + outcome.stderr, outcome.describe()


def assert_rejected(
    outcome: Outcome,
    file: str,
    code: str,
    where: Loc,
    also: Sequence[str] = (),
) -> dict[str, Any]:
    """Exit 1, no traceback, ``code`` at ``where`` in ``file``; returns that diagnostic."""
    assert_no_crash(outcome)
    assert outcome.exit_code == 1, outcome.describe()
    assert outcome.report["ok"] is False
    at = [(d["line"], d["column"]) for d in outcome.errors if d["code"] == code]
    assert (where.line, where.col) in at, (
        f"expected {code} at {where.line}:{where.col}\n{outcome.describe()}"
    )
    unexpected = sorted(set(outcome.codes()) - {code, *also})
    assert not unexpected, f"unexpected error codes {unexpected}\n{outcome.describe()}"
    found = next(
        d
        for d in outcome.errors
        if d["code"] == code and (d["line"], d["column"]) == (where.line, where.col)
    )
    assert found["file"] == file
    return found


def assert_case(outcome: Outcome, file: str, spec: Case) -> dict[str, Any]:
    found = assert_rejected(outcome, file, spec.code, spec.where, spec.also)
    if spec.hint is not None:
        assert spec.hint in (found["hint"] or ""), found
    if spec.message is not None:
        assert spec.message in found["message"], found
    return found


# ------------------------------------------------------------------------- output tree


@dataclass
class OutTree:
    """An output tree compiled from the good reference spec, and its snapshot.

    One tree serves the whole session (compiling the reference spec takes seconds); a
    pristine copy restores it whenever a test finds it changed, so one failure does not
    spill into the next test.
    """

    path: Path
    pristine: Path
    before: Snapshot = field(default_factory=dict)

    def assert_unchanged(self) -> None:
        after = snapshot(self.path)
        siblings = sorted(p.name for p in self.path.parent.iterdir())
        if after == self.before and siblings == ["out"]:
            return
        self._restore()
        assert sorted(after) == sorted(self.before), "files were added or removed"
        changed = [p for p in self.before if after[p] != self.before[p]]
        assert not changed, f"changed by a failed compile: {changed}"
        assert siblings == ["out"], f"left behind next to the tree: {siblings}"

    def _restore(self) -> None:
        shutil.rmtree(self.path.parent)
        self.path.parent.mkdir()
        shutil.copytree(self.pristine, self.path, symlinks=True)
        os.chmod(self.path, self.pristine.stat().st_mode)


@pytest.fixture(scope="session")
def out_tree(tmp_path_factory: pytest.TempPathFactory) -> OutTree:
    """The good reference spec compiled by ``mlspec compile`` into ``<tmp>/out``."""
    source = tmp_path_factory.mktemp("reference")
    good = write_spec(source, reference_text())
    out = tmp_path_factory.mktemp("tree") / "out"
    outcome = run_cli("compile", good, "--out", out, "--format", "json")
    assert_no_crash(outcome)
    assert outcome.exit_code == 0, outcome.describe()
    pristine = tmp_path_factory.mktemp("pristine") / "out"
    shutil.copytree(out, pristine, symlinks=True)
    tree = OutTree(out, pristine, snapshot(out))
    assert len(tree.before) > 3, "the reference spec compiled to an empty tree"
    return tree


Rejects = Callable[[Case], dict[str, Any]]


@pytest.fixture
def compile_rejects(tmp_path: Path, out_tree: OutTree) -> Rejects:
    """``compile_rejects(case)``: compile the case over a good tree; exit 1, tree intact."""

    def run(spec: Case) -> dict[str, Any]:
        path = write_spec(tmp_path, spec.text)
        env_args = [a for name in spec.env for a in ("--env", name)]
        outcome = run_cli("compile", path, "--out", out_tree.path, "--format", "json", *env_args)
        found = assert_case(outcome, str(path), spec)
        out_tree.assert_unchanged()
        return found

    return run


@pytest.fixture
def validate_rejects(tmp_path: Path) -> Rejects:
    """``validate_rejects(case)``: ``mlspec validate`` exits 1 with the expected diagnostic."""

    def run(spec: Case) -> dict[str, Any]:
        path = write_spec(tmp_path, spec.text)
        env_args = [a for name in spec.env for a in ("--env", name)]
        outcome = run_cli("validate", path, "--format", "json", *env_args)
        return assert_case(outcome, str(path), spec)

    return run


def write_spec(directory: Path, text: str | bytes) -> Path:
    path = directory / SPEC_NAME
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path
