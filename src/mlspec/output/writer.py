"""All-or-nothing writer for the compiled tree (RELIABILITY rules 3 and 6).

The output directory is usually a checkout that Argo CD or Flux applies without a human
in between, so a half-written tree is an outage. The new tree is therefore built in a
sibling temporary directory (same filesystem) and swapped in with one atomic
``renameat2(RENAME_EXCHANGE)``; before the swap nothing in ``out_dir`` is touched.

Ownership: mlspec owns exactly the files listed in the previous ``manifest.json`` plus
the manifest itself. Everything else in ``out_dir`` (``.git``, a README, files of other
tools, symlinks) is carried into the new tree unchanged: regular files as hard links
(same inode, so same bytes and mode), symlinks recreated without being followed,
directories recursively with their mode. A new file that would land on something
mlspec does not own, or below a symlink, is refused before anything is written.

Not covered: files are flushed but not fsynced (a kill cannot lose them, a power cut
can), and another process writing into ``out_dir`` during a run may lose its writes.

This module is the interface (`write_tree`, `TreeWriter`); what mlspec owns and which
paths it accepts are decided in `ownership`, and the temporary tree is completed and
swapped in by `swap`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# swap's helpers are called as swap.<name>, so that a test patching one of them (to
# inject a failure) reaches its callers here and in swap alike.
from mlspec.output import swap
from mlspec.output.emit import dump_json
from mlspec.output.ownership import (
    MANIFEST,
    WriteError,
    check_collision,
    check_out_dir,
    check_output_path,
    owned_files,
    read_bytes,
    read_owned_manifest,
    validate_files,
    validate_path,
)

__all__ = [
    "MANIFEST",
    "TreeWriter",
    "WriteError",
    "WriteSummary",
    "read_owned_manifest",
    "validate_path",
    "write_tree",
]


@dataclass(frozen=True)
class WriteSummary:
    """What a write did.

    ``written`` counts files added or whose bytes (or mode) changed; ``removed`` lists
    files the previous manifest owned that the new tree no longer has.
    """

    written: int
    removed: tuple[str, ...]
    changed: bool


def write_tree(
    out_dir: Path, files: Mapping[str, bytes], manifest: dict[str, object]
) -> WriteSummary:
    """Make ``out_dir`` hold ``files`` plus ``manifest.json``, atomically.

    Raises ``WriteError`` for invalid paths, unowned entries in the way, a corrupt
    previous manifest or any I/O failure; ``out_dir`` is then exactly as it was.
    """
    paths = validate_files(files)
    with TreeWriter(out_dir) as tree:
        for path in paths:
            tree.add(path, files[path])
        return tree.commit(manifest)


class TreeWriter:
    """The new tree, built file by file in a sibling temporary directory and swapped in
    by `commit`; leaving the ``with`` block without a commit discards it.

    Files equal to the ones already in ``out_dir`` are not rewritten: they are
    hard-linked from the previous tree once the tree is known to change (until then
    nothing is created at all, so an unchanged compile writes nothing). `keep` carries
    a file of the previous tree the same way, without reading it.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(os.path.abspath(out_dir))
        self._owned: frozenset[str] | None = None
        self._manifest: dict[str, object] | None = None
        self._previous: dict[str, str] = {}
        self._digests: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        self._dirs: set[str] = set()
        self._known_dirs: set[str] = set()
        self._same: list[str] = []
        self._made: set[str] = set()
        self._tmp: Path | None = None
        self._written = 0

    def __enter__(self) -> TreeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    @property
    def manifest(self) -> dict[str, object] | None:
        """The manifest of the previous write (`read_owned_manifest`), read once."""
        with self._guard():
            self._start()
        return self._manifest

    def add(self, path: str, content: bytes) -> None:
        """Put ``content`` at ``path`` in the new tree."""
        with self._guard():
            self._claim(path)
            if not isinstance(content, bytes):
                raise TypeError(f"content of {path!r} must be bytes, not {type(content).__name__}")
            self._digests[path] = hashlib.sha256(content).hexdigest()
            if not _differs(f"{self.out_dir}/{path}", content):
                self._keep_same(path)
                return
            self._written += 1
            self._materialize()
            swap.write_file(self._parent(path) + path.rpartition("/")[2], content)

    def keep(self, path: str) -> None:
        """Carry ``path``, a file the previous compile wrote, into the new tree as it is."""
        with self._guard():
            self._claim(path, checked=True)  # read_owned_manifest checked its paths
            digest = self._previous.get(path)
            if digest is None:
                raise WriteError(f"{path!r} is not in the previous manifest: it cannot be kept")
            self._digests[path] = digest
            self._keep_same(path)

    def commit(self, manifest: dict[str, object]) -> WriteSummary:
        """Write the manifest and swap the new tree in (nothing at all if nothing changed)."""
        with self._guard():
            self._start()
            assert self._owned is not None
            if "files" in manifest:
                raise ValueError("the manifest's 'files' key is filled in by write_tree")
            digests = dict(sorted(self._digests.items()))
            manifest_bytes = dump_json({**manifest, "files": digests}).encode("utf-8")
            removed = tuple(sorted(self._owned - set(self._digests) - {MANIFEST}))
            unchanged = not self._written and not removed
            if unchanged and not _differs(self.out_dir / MANIFEST, manifest_bytes):
                self.discard()
                return WriteSummary(written=0, removed=(), changed=False)
            self._materialize()
            assert self._tmp is not None
            tmp, self._tmp = self._tmp, None
            try:
                swap.finish(tmp, self.out_dir, self._owned, manifest_bytes)
            except BaseException:
                swap.remove_tree(tmp)
                raise
            return WriteSummary(written=self._written, removed=removed, changed=True)

    def discard(self) -> None:
        """Remove the temporary tree, if there is one; ``out_dir`` was never touched."""
        if self._tmp is not None:
            tmp, self._tmp = self._tmp, None
            swap.remove_tree(tmp)

    # --- internals -----------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """I/O errors become WriteError; any failure discards the temporary tree."""
        try:
            yield
        except OSError as exc:
            self.discard()
            reason = exc.strerror or str(exc)
            where = f" ({exc.filename})" if exc.filename else ""
            raise WriteError(
                f"could not write {str(self.out_dir)!r}: {reason}{where}; "
                "the previous tree is unchanged"
            ) from exc
        except BaseException:
            self.discard()
            raise

    def _start(self) -> None:
        if self._owned is not None:
            return
        check_out_dir(self.out_dir)
        manifest = self._manifest = read_owned_manifest(self.out_dir)
        self._owned = owned_files(manifest)
        files = manifest.get("files") if manifest else None
        self._previous = dict(files) if isinstance(files, dict) else {}

    def _claim(self, path: str, checked: bool = False) -> None:
        """Check ``path`` alone (unless ``checked``) and against every path claimed before."""
        self._start()
        assert self._owned is not None
        if not checked:
            check_output_path(path)
        if path in self._digests:
            raise WriteError(f"{path!r} is written twice")
        other = self._folded.setdefault(path.casefold(), path)
        if other != path:  # same name in another case: breaks checkouts on macOS and Windows
            raise WriteError(f"output paths {other!r} and {path!r} differ only in case")
        if path in self._dirs:
            raise WriteError(f"{path!r} is both a file and a directory")
        parts = path.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in self._digests:
                raise WriteError(f"{prefix!r} is both a file and a directory")
            self._dirs.add(prefix)
        check_collision(self.out_dir, path, self._owned, self._known_dirs)

    def _keep_same(self, path: str) -> None:
        if self._tmp is None:
            self._same.append(path)  # linked if and when the tree changes
        else:
            self._link_same(path)

    def _materialize(self) -> None:
        """Create the temporary tree (on the first change) with the files kept so far."""
        if self._tmp is not None:
            return
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(
            tempfile.mkdtemp(prefix=f".{self.out_dir.name}.mlspec-tmp-", dir=self.out_dir.parent)
        )
        self._made = set()
        pending, self._same = self._same, []
        for path in pending:
            self._link_same(path)

    def _link_same(self, path: str) -> None:
        target = Path(self._parent(path) + path.rpartition("/")[2])
        swap.link_or_copy(f"{self.out_dir}/{path}", target)

    def _parent(self, path: str) -> str:
        """The directory of ``path`` in the temporary tree (with a trailing slash),
        created if need be. Plain strings: path objects cost more than the syscalls."""
        assert self._tmp is not None
        parent = f"{self._tmp}/"
        for part in path.split("/")[:-1]:
            parent = f"{parent}{part}/"
            if parent not in self._made:
                swap.ensure_dir(parent[:-1])
                self._made.add(parent)
        return parent


def _differs(path: str | Path, content: bytes) -> bool:
    """Whether ``path`` is anything but a 0644 regular file holding ``content``."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != swap.FILE_MODE:
        return True
    return st.st_size != len(content) or read_bytes(path) != content
