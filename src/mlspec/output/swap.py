"""The all-or-nothing swap of the new tree into place (RELIABILITY rule 6).

Rule 6: render everything first, write the whole new tree into a sibling temporary
directory (same filesystem as ``out_dir``), then swap it in with one rename: an atomic
``renameat2(RENAME_EXCHANGE)`` where the kernel and filesystem can, else two renames
through an empty placeholder (for a moment there is no tree at ``out_dir``), the first
undone if the second fails. Before the swap nothing in ``out_dir`` is touched, so a
failure at any point leaves the previous tree intact, and the temporary tree is
removed; the old tree is removed only once the new one is in place. The one exception:
if on the two-rename path the previous tree cannot even be moved back, the error says
where it now is.

Only files mlspec owns are deleted (`ownership`): everything else in ``out_dir``
(``.git``, a README, files of other tools, symlinks) is carried into the new tree
before the swap (`finish`), unchanged: regular files as hard links (same inode, so same
bytes and mode), symlinks recreated without being followed, directories recursively
with their mode. The new tree's files and directories are created here too
(`write_file`, `ensure_dir`, `link_or_copy`), never through a symlink; new ones get
mode 0644 or 0755 whatever the umask.

`writer.TreeWriter` calls these helpers as attributes of this module, so that a test
patching one of them (to inject a failure) reaches every caller.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from mlspec.output.ownership import MANIFEST, WriteError, prunable

FILE_MODE = 0o644
_DIR_MODE = 0o755
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errno values meaning "this kernel or filesystem cannot do that", not "it failed".
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})
_NO_HARD_LINK = _UNSUPPORTED | {errno.EPERM, errno.EACCES, errno.EXDEV, errno.EMLINK}


def finish(tmp: Path, out_dir: Path, owned: frozenset[str], manifest_bytes: bytes) -> None:
    """Complete ``tmp`` (it holds the new files) and swap it in place of ``out_dir``."""
    cwd = _cwd_inside(out_dir)
    dir_modes: list[tuple[Path, int]] = []
    if os.path.lexists(out_dir):
        _carry(out_dir, tmp, "", owned, dir_modes)
        dir_modes.append((tmp, stat.S_IMODE(os.lstat(out_dir).st_mode)))
    else:
        dir_modes.append((tmp, _DIR_MODE))
    write_file(tmp / MANIFEST, manifest_bytes)
    # Modes last and children first: a carried read-only directory must still have
    # received its new files.
    for directory, mode in dir_modes:
        os.chmod(directory, mode)
    old = _swap(tmp, out_dir)
    if old is not None:
        remove_tree(old)
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
            link_or_copy(entry.path, target)
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
            if prunable(src, rel, owned):
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


def link_or_copy(src: str, dst: Path) -> None:
    """Hard-link ``src`` (same inode: same bytes and mode); copy where links cannot be made."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINK:
            raise
        shutil.copy2(src, dst, follow_symlinks=False)


def ensure_dir(path: str | Path) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:
        if not stat.S_ISDIR(os.lstat(path).st_mode):  # defence in depth: never via a symlink
            raise WriteError(f"{str(path)!r} is not a directory") from None
        return
    os.chmod(path, _DIR_MODE)


def write_file(path: str | Path, content: bytes) -> None:
    """Create ``path`` (never overwrite, never follow a symlink) with mode 0644."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # independent of the umask
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


def remove_tree(path: Path) -> None:
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
