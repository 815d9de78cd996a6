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
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlspec.output.emit import dump_json

MANIFEST = "manifest.json"

_COMPONENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\Z")
_SAFE_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_MAX_COMPONENT_BYTES = 255
_MAX_PATH_BYTES = 1024
_FILE_MODE = 0o644
_DIR_MODE = 0o755
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errno values meaning "this kernel or filesystem cannot do that", not "it failed".
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})
_NO_HARD_LINK = _UNSUPPORTED | {errno.EPERM, errno.EACCES, errno.EXDEV, errno.EMLINK}


class WriteError(Exception):
    """The tree could not be written; ``str(error)`` is a message for the user."""


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
    paths = _validate_files(files)
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
            _write_file(self._parent(path) + path.rpartition("/")[2], content)

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
                _finish(tmp, self.out_dir, self._owned, manifest_bytes)
            except BaseException:
                _remove_tree(tmp)
                raise
            return WriteSummary(written=self._written, removed=removed, changed=True)

    def discard(self) -> None:
        """Remove the temporary tree, if there is one; ``out_dir`` was never touched."""
        if self._tmp is not None:
            tmp, self._tmp = self._tmp, None
            _remove_tree(tmp)

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
        _check_out_dir(self.out_dir)
        manifest = self._manifest = read_owned_manifest(self.out_dir)
        self._owned = _owned_files(manifest)
        files = manifest.get("files") if manifest else None
        self._previous = dict(files) if isinstance(files, dict) else {}

    def _claim(self, path: str, checked: bool = False) -> None:
        """Check ``path`` alone (unless ``checked``) and against every path claimed before."""
        self._start()
        assert self._owned is not None
        if not checked:
            _check_output_path(path)
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
        _check_collision(self.out_dir, path, self._owned, self._known_dirs)

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
        _link_or_copy(f"{self.out_dir}/{path}", target)

    def _parent(self, path: str) -> str:
        """The directory of ``path`` in the temporary tree (with a trailing slash),
        created if need be. Plain strings: path objects cost more than the syscalls."""
        assert self._tmp is not None
        parent = f"{self._tmp}/"
        for part in path.split("/")[:-1]:
            parent = f"{parent}{part}/"
            if parent not in self._made:
                _ensure_dir(parent[:-1])
                self._made.add(parent)
        return parent


def read_owned_manifest(out_dir: Path) -> dict[str, object] | None:
    """The manifest of the last write to ``out_dir``, or None if there is none.

    Raises ``WriteError`` when it exists but cannot be trusted: we never guess which
    files we own, because guessing wrong deletes someone else's file.
    """
    path = Path(out_dir) / MANIFEST
    mode = _lstat_mode(path)
    if mode is None:
        return None
    if not stat.S_ISREG(mode):
        raise WriteError(f"{str(path)!r} is not a regular file; refusing to guess what mlspec owns")
    try:
        raw = _read_bytes(path)
    except OSError as exc:
        raise WriteError(f"cannot read {str(path)!r}: {exc.strerror}") from exc
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
        _check_manifest(data)
    except (ValueError, RecursionError) as exc:
        raise WriteError(f"{str(path)!r} is corrupt ({exc}); fix or remove it") from None
    result: dict[str, object] = data
    return result


def validate_path(path: str) -> None:
    """Raise ``WriteError`` unless ``path`` is a safe relative POSIX path for the tree."""
    if _plainly_safe(path):
        return
    if not isinstance(path, str) or not path:
        raise WriteError(f"invalid output path {path!r}: empty")
    if "\\" in path:
        raise WriteError(f"invalid output path {path!r}: backslashes are not allowed")
    if path.startswith("/"):
        raise WriteError(f"invalid output path {path!r}: must be relative")
    if len(path.encode()) > _MAX_PATH_BYTES:
        raise WriteError(f"invalid output path {path!r}: longer than {_MAX_PATH_BYTES} bytes")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise WriteError(f"invalid output path {path!r}: empty, '.' or '..' component")
        if len(part.encode()) > _MAX_COMPONENT_BYTES:
            raise WriteError(f"invalid output path {path!r}: a component is over 255 bytes")
        if not _COMPONENT.match(part):
            raise WriteError(
                f"invalid output path {path!r}: components must match [A-Za-z0-9._-]+ "
                "and not start with '.'"
            )


# --- validation (no writes) ----------------------------------------------------------


def _validate_files(files: Mapping[str, bytes]) -> list[str]:
    """Sorted paths, after checking each one and the set as a whole."""
    paths = sorted(files)
    folded: dict[str, str] = {}
    for path in paths:
        _check_output_path(path)
        if not isinstance(files[path], bytes):
            raise TypeError(f"content of {path!r} must be bytes, not {type(files[path]).__name__}")
        # Same name in another case: breaks checkouts on macOS and Windows.
        other = folded.setdefault(path.casefold(), path)
        if other != path:
            raise WriteError(f"output paths {other!r} and {path!r} differ only in case")
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in files:
                raise WriteError(f"{'/'.join(parts[:depth])!r} is both a file and a directory")
    return paths


def _plainly_safe(path: object) -> bool:
    """The common case in one match (ASCII only, so characters are bytes)."""
    if not isinstance(path, str) or len(path) > _MAX_PATH_BYTES or not _SAFE_PATH.match(path):
        return False
    return max(map(len, path.split("/"))) <= _MAX_COMPONENT_BYTES


def _check_output_path(path: str) -> None:
    validate_path(path)
    if path.split("/", 1)[0] == MANIFEST:
        raise WriteError(f"{path!r}: {MANIFEST!r} is written by mlspec itself")


def _check_out_dir(out_dir: Path) -> None:
    if not out_dir.name:
        raise WriteError(f"refusing to use {str(out_dir)!r} as the output directory")
    mode = _lstat_mode(out_dir)
    if mode is not None and stat.S_ISLNK(mode):
        raise WriteError(f"output directory {str(out_dir)!r} is a symlink; refusing to follow it")
    if mode is not None and not stat.S_ISDIR(mode):
        raise WriteError(f"output directory {str(out_dir)!r} exists and is not a directory")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _check_manifest(data: object) -> None:
    """Raise ``ValueError`` unless ``data`` is a manifest we could have written."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    files = data.get("files")
    if not isinstance(files, dict):
        raise ValueError("'files' is missing or not an object")
    for path, digest in files.items():
        try:
            _check_output_path(path)
        except WriteError as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise ValueError(f"bad entry for {path!r}")


def _owned_files(manifest: dict[str, object] | None) -> frozenset[str]:
    if manifest is None:
        return frozenset()
    files = manifest["files"]
    assert isinstance(files, dict)  # checked by read_owned_manifest
    return frozenset({MANIFEST, *files})


def _check_collision(out_dir: Path, path: str, owned: frozenset[str], known_dirs: set[str]) -> None:
    """Refuse a path that lands on, or below, something mlspec does not own."""
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        rel = "/".join(parts[:depth])
        if rel in known_dirs:
            continue
        mode = _lstat_mode(f"{out_dir}/{rel}")
        if mode is None or (stat.S_ISREG(mode) and rel in owned):
            break  # nothing there, or a file of ours that will go away
        if stat.S_ISDIR(mode) and depth < len(parts):
            known_dirs.add(rel)
            continue
        if stat.S_ISDIR(mode) and _prunable(out_dir / rel, rel, owned):
            break  # a directory of ours only, which the new tree will not have
        raise WriteError(
            f"refusing to overwrite {rel!r} ({_kind(mode)}) in {str(out_dir)!r}, which "
            f"mlspec does not own; it is in the way of {path!r}"
        )


def _prunable(directory: Path, rel: str, owned: frozenset[str]) -> bool:
    """Whether ``_carry`` will leave ``directory`` out: it holds owned files and nothing
    else but directories of the same kind. Keep the two in step."""
    with os.scandir(directory) as scan:
        entries = list(scan)
    for entry in entries:
        child = f"{rel}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            if not _prunable(Path(entry.path), child, owned):
                return False
        elif not (child in owned and entry.is_file(follow_symlinks=False)):
            return False
    return bool(entries)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a file" if stat.S_ISREG(mode) else "a special file"


def _differs(path: str | Path, content: bytes) -> bool:
    """Whether ``path`` is anything but a 0644 regular file holding ``content``."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != _FILE_MODE:
        return True
    return st.st_size != len(content) or _read_bytes(path) != content


# --- building and swapping -----------------------------------------------------------


def _finish(tmp: Path, out_dir: Path, owned: frozenset[str], manifest_bytes: bytes) -> None:
    """Complete ``tmp`` (it holds the new files) and swap it in place of ``out_dir``."""
    cwd = _cwd_inside(out_dir)
    dir_modes: list[tuple[Path, int]] = []
    if os.path.lexists(out_dir):
        _carry(out_dir, tmp, "", owned, dir_modes)
        dir_modes.append((tmp, stat.S_IMODE(os.lstat(out_dir).st_mode)))
    else:
        dir_modes.append((tmp, _DIR_MODE))
    _write_file(tmp / MANIFEST, manifest_bytes)
    # Modes last and children first: a carried read-only directory must still have
    # received its new files.
    for directory, mode in dir_modes:
        os.chmod(directory, mode)
    old = _swap(tmp, out_dir)
    if old is not None:
        _remove_tree(old)
    if cwd is not None:
        _return_to(cwd, out_dir)


def _carry(
    src: Path, dst: Path, prefix: str, owned: frozenset[str], dir_modes: list[tuple[Path, int]]
) -> tuple[bool, bool]:
    """Recreate the unowned entries of ``src`` in ``dst`` (which may already hold new
    files); return whether owned files were left out and whether anything was carried."""
    dropped = carried = False
    with os.scandir(src) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        rel = prefix + entry.name
        target = dst / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
            carried = True
        elif entry.is_dir(follow_symlinks=False):
            below, kept = _carry_dir(Path(entry.path), target, rel, owned, dir_modes)
            dropped, carried = dropped or below, carried or kept
        elif rel in owned and entry.is_file(follow_symlinks=False):
            dropped = True
        else:
            _link_or_copy(entry.path, target)
            carried = True
    return dropped, carried


def _carry_dir(
    src: Path, dst: Path, rel: str, owned: frozenset[str], dir_modes: list[tuple[Path, int]]
) -> tuple[bool, bool]:
    """Carry one directory. One that held only files we no longer write is left out, or,
    when new files go there, keeps the mode new directories get: as if it were new."""
    try:
        os.mkdir(dst, 0o700)
        existed = False
    except FileExistsError:
        if not stat.S_ISDIR(os.lstat(dst).st_mode):  # a new file where our directory was
            if _prunable(src, rel, owned):
                return True, False
            raise WriteError(f"{str(dst)!r} is not a directory") from None
        existed = True
    dropped, carried = _carry(src, dst, rel + "/", owned, dir_modes)
    if dropped and not carried:
        if not existed:
            os.rmdir(dst)
        return dropped, False
    dir_modes.append((dst, stat.S_IMODE(os.lstat(src).st_mode)))
    return dropped, True


def _link_or_copy(src: str, dst: Path) -> None:
    """Hard-link ``src`` (same inode: same bytes and mode); copy where links cannot be made."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINK:
            raise
        shutil.copy2(src, dst, follow_symlinks=False)


def _ensure_dir(path: str | Path) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:
        if not stat.S_ISDIR(os.lstat(path).st_mode):  # defence in depth: never via a symlink
            raise WriteError(f"{str(path)!r} is not a directory") from None
        return
    os.chmod(path, _DIR_MODE)


def _write_file(path: str | Path, content: bytes) -> None:
    """Create ``path`` (never overwrite, never follow a symlink) with mode 0644."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, _FILE_MODE)
    try:
        os.fchmod(fd, _FILE_MODE)  # independent of the umask
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _swap(tmp: Path, out_dir: Path) -> Path | None:
    """Put ``tmp`` in place of ``out_dir``; return where the old tree now is, if any."""
    if not os.path.lexists(out_dir):
        os.rename(tmp, out_dir)
        return None
    if _exchange(tmp, out_dir):
        return tmp
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.mlspec-old-", dir=out_dir.parent))
    try:
        os.rename(out_dir, old)  # onto an empty directory: allowed by POSIX
    except BaseException:
        os.rmdir(old)
        raise
    try:
        os.rename(tmp, out_dir)
    except BaseException:
        _restore(old, out_dir)
        raise
    return old


def _restore(old: Path, out_dir: Path) -> None:
    try:
        os.rename(old, out_dir)
    except OSError as exc:
        raise WriteError(
            f"could not swap in the new tree, nor move the previous one back: it is at "
            f"{str(old)!r} ({exc.strerror})"
        ) from exc


def _exchange(first: Path, second: Path) -> bool:
    """Atomically exchange two paths; False where the platform cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(second))


@functools.cache
def _renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    """libc ``renameat2`` (Linux, glibc 2.28+), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    found: Callable[[int, bytes, int, bytes, int], int] = function
    return found


def _remove_tree(path: Path) -> None:
    """Best-effort removal of a tree we created or swapped out.

    Read-only directories carried over from the user's tree are made writable first
    when a plain ``rmtree`` fails. A leftover is not worth failing a finished write for.
    """
    try:
        shutil.rmtree(path)
    except OSError:
        pass
    else:
        return
    try:
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                full = os.path.join(root, name)
                if stat.S_ISDIR(os.lstat(full).st_mode):
                    os.chmod(full, 0o700)
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)


def _cwd_inside(out_dir: Path) -> Path | None:
    """The working directory if it lies in ``out_dir`` (the swap moves it away)."""
    try:
        cwd = Path.cwd()
    except OSError:
        return None
    return cwd if cwd == out_dir or out_dir in cwd.parents else None


def _return_to(cwd: Path, out_dir: Path) -> None:
    for candidate in (cwd, out_dir):
        try:
            os.chdir(candidate)
        except OSError:
            continue
        return


# --- small helpers -------------------------------------------------------------------


def _lstat_mode(path: str | Path) -> int | None:
    try:
        return os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None


def _read_bytes(path: str | Path) -> bytes:
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as handle:
        return handle.read()
