"""The tree writer: all-or-nothing, owns only what its manifest lists, never follows links."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.output import swap
from mlspec.output.writer import WriteError, WriteSummary, read_owned_manifest, write_tree

Entry = tuple[int, bytes | str | None]

NS = "prod/tenants/fraud/namespace-fraud.yaml"
QUOTA = "prod/tenants/fraud/quota-fraud.yaml"
OTHER = "staging/tenants/risk/namespace-risk.yaml"
META: dict[str, object] = {"spec_digest": "abc", "mlspec": 1}


def snapshot(root: Path) -> dict[str, Entry]:
    """Every entry below ``root``: (mode, bytes) for files, (mode, None) for directories
    and (0, target) for symlinks, which are never followed."""
    result: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            st_ = full.lstat()
            if stat.S_ISLNK(st_.st_mode):
                result[rel] = (0, os.readlink(full))
            elif stat.S_ISDIR(st_.st_mode):
                result[rel] = (stat.S_IMODE(st_.st_mode), None)
            else:
                result[rel] = (stat.S_IMODE(st_.st_mode), full.read_bytes())
    return result


def leftovers(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.mlspec-*"))


def manifest_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "manifest.json").read_text("utf-8"))
    return data


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "gitops"


def test_fresh_write_creates_files_and_manifest(out: Path) -> None:
    summary = write_tree(out, {NS: b"ns\n", QUOTA: b"quota\n"}, META)
    assert summary == WriteSummary(written=2, removed=(), changed=True)
    assert (out / NS).read_bytes() == b"ns\n"
    assert manifest_of(out) == {
        "mlspec": 1,
        "spec_digest": "abc",
        "files": {
            NS: hashlib.sha256(b"ns\n").hexdigest(),
            QUOTA: hashlib.sha256(b"quota\n").hexdigest(),
        },
    }
    assert (out / "manifest.json").read_text().endswith("}\n")
    assert leftovers(out) == []


def test_output_directory_parent_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out"
    write_tree(target, {"x.yaml": b"x"}, {})
    assert (target / "x.yaml").read_bytes() == b"x"


def test_rewrite_prunes_stale_owned_files_and_keeps_everything_else(out: Path) -> None:
    write_tree(out, {NS: b"ns", QUOTA: b"quota", OTHER: b"other"}, META)
    (out / "README.md").write_text("hand written\n")
    (out / ".git").mkdir()
    (out / ".git" / "config").write_text("[core]\n")
    os.chmod(out / ".git" / "config", 0o600)
    (out / "docs").mkdir(mode=0o750)
    os.chmod(out / "docs", 0o750)
    (out / "docs" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(out / "docs" / "run.sh", 0o755)
    (out / "latest").symlink_to("prod/tenants", target_is_directory=True)
    (out / "dangling").symlink_to("/nonexistent/target")
    (out / "empty-by-hand").mkdir()
    (out / "prod" / "tenants" / "fraud" / "notes.txt").write_text("mine")
    unowned_before = {
        rel: entry
        for rel, entry in snapshot(out).items()
        if rel.startswith((".git", "docs", "README", "latest", "dangling", "empty"))
    }

    summary = write_tree(out, {QUOTA: b"quota v2"}, META)

    assert summary == WriteSummary(written=1, removed=(NS, OTHER), changed=True)
    after = snapshot(out)
    assert {rel: after[rel] for rel in unowned_before} == unowned_before
    assert after["prod/tenants/fraud/notes.txt"] == (0o644, b"mine")
    assert not (out / NS).exists()
    assert not (out / "staging").exists(), "directory emptied of owned files must go"
    assert (out / QUOTA).read_bytes() == b"quota v2"
    assert set(manifest_of(out)["files"]) == {QUOTA}
    assert leftovers(out) == []


def test_unowned_regular_files_keep_their_inode(out: Path) -> None:
    write_tree(out, {NS: b"ns"}, META)
    (out / "README.md").write_text("x")
    inode = (out / "README.md").stat().st_ino
    write_tree(out, {NS: b"ns2"}, META)
    assert (out / "README.md").stat().st_ino == inode


def test_first_write_into_existing_repository_keeps_its_files(out: Path) -> None:
    out.mkdir()
    (out / "README.md").write_text("repo")
    write_tree(out, {NS: b"ns"}, META)
    assert (out / "README.md").read_text() == "repo"
    assert set(manifest_of(out)["files"]) == {NS}


@pytest.mark.parametrize(
    "path",
    [
        "",
        "../x",
        "/abs",
        "a/./b",
        "a/../b",
        "a//b",
        "a/",
        "a\\b",
        ".hidden",
        "a/.git/config",
        "sp ace",
        "new\nline",
        "é.yaml",
        "manifest.json",
        "manifest.json/x",
        "x" * 256,
        "a/" * 512 + "b",
    ],
)
def test_invalid_path_is_refused_before_touching_disk(out: Path, path: str) -> None:
    write_tree(out, {NS: b"ns"}, META)
    before = snapshot(out)
    with pytest.raises(WriteError):
        write_tree(out, {path: b"x", QUOTA: b"q"}, META)
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_file_that_is_also_a_directory_is_refused(out: Path) -> None:
    with pytest.raises(WriteError, match="both a file and a directory"):
        write_tree(out, {"a": b"1", "a/b": b"2"}, {})
    assert not out.exists()


def test_paths_differing_only_in_case_are_refused(out: Path) -> None:
    with pytest.raises(WriteError, match="differ only in case"):
        write_tree(out, {"a/B.yaml": b"1", "a/b.yaml": b"2"}, {})


def test_path_through_unowned_symlink_is_refused(out: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_tree(out, {NS: b"ns"}, META)
    (out / "staging").symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(out)
    with pytest.raises(WriteError, match="symlink"):
        write_tree(out, {NS: b"ns", OTHER: b"other"}, META)
    assert snapshot(out) == before
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("kind", ["file", "directory", "symlink"])
def test_collision_with_unowned_entry_is_refused_and_tree_is_unchanged(
    out: Path, kind: str
) -> None:
    write_tree(out, {NS: b"ns"}, META)
    target = out / QUOTA
    if kind == "file":
        target.write_bytes(b"someone else's")
    elif kind == "directory":
        target.mkdir()
        (target / "keep").write_text("k")
    else:
        target.symlink_to("/etc/passwd")
    before = snapshot(out)
    with pytest.raises(WriteError, match="which mlspec does not own"):
        write_tree(out, {NS: b"ns", QUOTA: b"q"}, META)
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_unowned_file_in_place_of_a_parent_directory_is_refused(out: Path) -> None:
    out.mkdir()
    (out / "prod").write_text("not a directory")
    with pytest.raises(WriteError, match="'prod' \\(a file\\)"):
        write_tree(out, {NS: b"ns"}, META)
    assert (out / "prod").read_text() == "not a directory"


def test_owned_file_may_become_a_directory_and_back(out: Path) -> None:
    write_tree(out, {"a": b"file"}, {})
    write_tree(out, {"a/b": b"nested"}, {})
    assert (out / "a" / "b").read_bytes() == b"nested"
    write_tree(out, {"a": b"file again"}, {})
    assert (out / "a").read_bytes() == b"file again"


def test_unchanged_rewrite_does_not_swap(out: Path) -> None:
    write_tree(out, {NS: b"ns", QUOTA: b"q"}, META)
    inode = (out / NS).stat().st_ino
    summary = write_tree(out, {QUOTA: b"q", NS: b"ns"}, dict(META))
    assert summary == WriteSummary(written=0, removed=(), changed=False)
    assert (out / NS).stat().st_ino == inode


def test_changed_manifest_metadata_alone_is_a_change(out: Path) -> None:
    write_tree(out, {NS: b"ns"}, META)
    summary = write_tree(out, {NS: b"ns"}, {**META, "spec_digest": "def"})
    assert summary == WriteSummary(written=0, removed=(), changed=True)
    assert manifest_of(out)["spec_digest"] == "def"


def test_hand_edited_owned_file_is_rewritten(out: Path) -> None:
    write_tree(out, {NS: b"ns"}, META)
    os.chmod(out / NS, 0o644)
    (out / NS).write_bytes(b"edited")
    assert write_tree(out, {NS: b"ns"}, META).written == 1
    assert (out / NS).read_bytes() == b"ns"


def test_modes_do_not_depend_on_umask(out: Path) -> None:
    with umask(0o077):
        write_tree(out, {NS: b"ns"}, META)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "prod" / "tenants").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / NS).stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "manifest.json").stat().st_mode) == 0o644


def test_modes_of_existing_directories_are_kept(out: Path) -> None:
    write_tree(out, {NS: b"ns"}, META)
    os.chmod(out, 0o750)
    (out / "ro").mkdir()
    (out / "ro" / "f").write_text("f")
    os.chmod(out / "ro", 0o555)
    write_tree(out, {NS: b"ns2"}, META)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "ro").stat().st_mode) == 0o555
    assert (out / "ro" / "f").read_text() == "f"


def _fail_on_call(number: int, error: BaseException) -> Callable[..., Any]:
    """A wrapper for writer internals that raises ``error`` on the given call."""
    calls = {"n": 0}

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def fake(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == number:
                raise error
            return real(*args, **kwargs)

        return fake

    return wrap


ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize(
    ("target", "call"),
    [
        ("write_file", 1),
        ("write_file", 2),
        ("write_file", 3),  # the manifest
        ("link_or_copy", 2),
        ("_exchange", 1),
        ("ensure_dir", 3),
    ],
)
def test_failure_mid_write_leaves_previous_tree_byte_identical(
    out: Path, monkeypatch: pytest.MonkeyPatch, target: str, call: int
) -> None:
    write_tree(out, {NS: b"ns", QUOTA: b"q"}, META)
    (out / "README.md").write_text("r")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref")
    before = snapshot(out)
    monkeypatch.setattr(swap, target, _fail_on_call(call, ENOSPC)(getattr(swap, target)))
    with pytest.raises(WriteError, match=r"No space left on device.*previous tree is unchanged"):
        write_tree(out, {NS: b"ns v2", OTHER: b"other"}, META)
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_enospc_from_os_link_is_not_papered_over_by_copying(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(out, {NS: b"ns"}, META)
    (out / "README.md").write_text("r")
    before = snapshot(out)

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", no_space)
    with pytest.raises(WriteError, match="No space left"):
        write_tree(out, {NS: b"ns v2"}, META)
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_hard_link_refusal_falls_back_to_copy(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(out, {NS: b"ns"}, META)
    (out / "README.md").write_text("r")
    os.chmod(out / "README.md", 0o600)

    def not_permitted(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", not_permitted)
    write_tree(out, {NS: b"ns v2"}, META)
    assert snapshot(out)["README.md"] == (0o600, b"r")


def test_interrupt_mid_write_removes_temporary_tree(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(out, {NS: b"ns"}, META)
    before = snapshot(out)
    fail = _fail_on_call(1, KeyboardInterrupt())
    monkeypatch.setattr(swap, "write_file", fail(swap.write_file))
    with pytest.raises(KeyboardInterrupt):
        write_tree(out, {NS: b"ns v2"}, META)
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_swap_without_renameat2_uses_two_renames(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(swap, "_renameat2", lambda: None)
    write_tree(out, {NS: b"ns"}, META)
    (out / "README.md").write_text("r")
    write_tree(out, {QUOTA: b"q"}, META)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "manifest.json", "prod"]
    assert leftovers(out) == []


def test_failed_second_rename_puts_previous_tree_back(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(swap, "_renameat2", lambda: None)
    write_tree(out, {NS: b"ns"}, META)
    before = snapshot(out)
    monkeypatch.setattr(os, "rename", _fail_on_call(2, ENOSPC)(os.rename))
    with pytest.raises(WriteError, match="previous tree is unchanged"):
        write_tree(out, {NS: b"ns v2"}, META)
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_output_directory_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(WriteError, match="is a symlink"):
        write_tree(link, {NS: b"ns"}, META)
    assert list(real.iterdir()) == []


def test_output_directory_that_is_a_file_is_refused(out: Path) -> None:
    out.write_text("file")
    with pytest.raises(WriteError, match="not a directory"):
        write_tree(out, {NS: b"ns"}, META)
    assert out.read_text() == "file"


@pytest.mark.parametrize(
    "manifest_text",
    [
        "{",
        "[]",
        '{"files": []}',
        '{"files": {"a": "b", "a": "c"}}',
        '{"files": {"../etc/passwd": "' + "0" * 64 + '"}}',
        '{"files": {"a": "not-a-digest"}}',
        '{"files": {"manifest.json": "' + "0" * 64 + '"}}',
        "{}",
        "\xff",
    ],
)
def test_corrupt_manifest_is_refused_without_guessing(out: Path, manifest_text: str) -> None:
    write_tree(out, {NS: b"ns"}, META)
    (out / "manifest.json").write_bytes(manifest_text.encode("latin-1"))
    before = snapshot(out)
    with pytest.raises(WriteError, match="corrupt"):
        write_tree(out, {QUOTA: b"q"}, META)
    assert snapshot(out) == before


def test_manifest_that_is_a_symlink_is_refused(out: Path, tmp_path: Path) -> None:
    write_tree(out, {NS: b"ns"}, META)
    real = tmp_path / "real.json"
    real.write_text('{"files": {}}')
    (out / "manifest.json").unlink()
    (out / "manifest.json").symlink_to(real)
    with pytest.raises(WriteError, match="not a regular file"):
        write_tree(out, {NS: b"ns"}, META)


def test_read_owned_manifest(out: Path) -> None:
    assert read_owned_manifest(out) is None
    write_tree(out, {NS: b"ns"}, META)
    manifest = read_owned_manifest(out)
    assert manifest is not None
    assert manifest["files"] == {NS: hashlib.sha256(b"ns").hexdigest()}
    assert manifest["spec_digest"] == "abc"


def test_caller_may_not_set_manifest_files(out: Path) -> None:
    with pytest.raises(ValueError, match="files"):
        write_tree(out, {NS: b"ns"}, {"files": {}})


def test_working_directory_inside_output_survives_the_swap(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(out, {NS: b"ns"}, META)
    monkeypatch.chdir(out / "prod")
    write_tree(out, {NS: b"ns v2"}, META)
    assert Path.cwd() == out / "prod"
    assert Path("tenants/fraud/namespace-fraud.yaml").read_bytes() == b"ns v2"


# --- property: any sequence of writes leaves exactly unowned + latest files -------------

SEGMENTS = ["a", "b", "c.yaml"]
tree_paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3).map("/".join)


def _prefix_free(paths: set[str]) -> set[str]:
    """Drop paths that are a directory of another path (a file cannot be both)."""
    return {p for p in paths if not any(q.startswith(p + "/") for q in paths)}


def _conflicts(files: set[str], unowned: set[str]) -> bool:
    for path in files:
        if any(u == path or path.startswith(u + "/") or u.startswith(path + "/") for u in unowned):
            return True
    return False


def _files_only(snap: dict[str, Entry]) -> dict[str, bytes]:
    return {rel: data for rel, (_, data) in snap.items() if isinstance(data, bytes)}


@settings(max_examples=60, deadline=None)
@given(
    unowned=st.sets(tree_paths, max_size=3).map(_prefix_free),
    rounds=st.lists(st.sets(tree_paths, max_size=4).map(_prefix_free), min_size=1, max_size=3),
)
def test_writes_leave_exactly_unowned_plus_latest_files(
    unowned: set[str], rounds: list[set[str]]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        for rel in unowned:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(b"user:" + rel.encode())
        expected = {rel: b"user:" + rel.encode() for rel in unowned}
        current: dict[str, bytes] = {}
        for number, paths in enumerate(rounds):
            files = {rel: f"{number}:{rel}".encode() for rel in paths}
            before = snapshot(out) if out.exists() else {}
            if _conflicts(paths, unowned):
                with pytest.raises(WriteError):
                    write_tree(out, files, {})
                assert (snapshot(out) if out.exists() else {}) == before
                continue
            write_tree(out, files, {})
            current = files
            got = _files_only(snapshot(out))
            assert got.pop("manifest.json")
            assert got == {**expected, **current}
            assert leftovers(out) == []
            empty = [d for d in out.rglob("*") if d.is_dir() and not any(d.iterdir())]
            assert empty == []
