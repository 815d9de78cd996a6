"""What mlspec owns in an output tree, and which paths it accepts (RELIABILITY rules 3 and 6).

Nothing here writes: these are the checks `writer.TreeWriter` makes before anything is
created, and the ownership rule `swap` follows when it prunes the previous tree.

Ownership: mlspec owns exactly the files listed in the previous ``manifest.json`` plus
the manifest itself, and only when that manifest is one mlspec could have written
(`read_owned_manifest`): we never guess which files we own, because guessing wrong
deletes someone else's file. Everything else in the output directory belongs to
someone else; a new file that would land on it, or below a symlink, is refused
(`check_collision`).

Paths: an output path is a relative POSIX path of plain ``[A-Za-z0-9._-]`` components
(`validate_path`), not below ``manifest.json``, and no two paths of one tree differ only
in case or are both a file and a directory.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

MANIFEST = "manifest.json"

_COMPONENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\Z")
_SAFE_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_MAX_COMPONENT_BYTES = 255
_MAX_PATH_BYTES = 1024


class WriteError(Exception):
    """The tree could not be written; ``str(error)`` is a message for the user."""


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
        raw = read_bytes(path)
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


def validate_files(files: Mapping[str, bytes]) -> list[str]:
    """Sorted paths, after checking each one and the set as a whole."""
    paths = sorted(files)
    folded: dict[str, str] = {}
    for path in paths:
        check_output_path(path)
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


def check_output_path(path: str) -> None:
    validate_path(path)
    if path.split("/", 1)[0] == MANIFEST:
        raise WriteError(f"{path!r}: {MANIFEST!r} is written by mlspec itself")


def check_out_dir(out_dir: Path) -> None:
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
            check_output_path(path)
        except WriteError as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise ValueError(f"bad entry for {path!r}")


def owned_files(manifest: dict[str, object] | None) -> frozenset[str]:
    if manifest is None:
        return frozenset()
    files = manifest["files"]
    assert isinstance(files, dict)  # checked by read_owned_manifest
    return frozenset({MANIFEST, *files})


def check_collision(out_dir: Path, path: str, owned: frozenset[str], known_dirs: set[str]) -> None:
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
        if stat.S_ISDIR(mode) and prunable(out_dir / rel, rel, owned):
            break  # a directory of ours only, which the new tree will not have
        raise WriteError(
            f"refusing to overwrite {rel!r} ({_kind(mode)}) in {str(out_dir)!r}, which "
            f"mlspec does not own; it is in the way of {path!r}"
        )


def prunable(directory: Path, rel: str, owned: frozenset[str]) -> bool:
    """Whether ``swap._carry`` will leave ``directory`` out: it holds owned files and nothing
    else but directories of the same kind. Keep the two in step."""
    with os.scandir(directory) as scan:
        entries = list(scan)
    for entry in entries:
        child = f"{rel}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            if not prunable(Path(entry.path), child, owned):
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


# --- small helpers -------------------------------------------------------------------


def _lstat_mode(path: str | Path) -> int | None:
    try:
        return os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_bytes(path: str | Path) -> bytes:
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as handle:
        return handle.read()
