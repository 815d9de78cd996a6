"""The kustomizations of an environment that a selected compile updates in place.

`compile --select` rewrites the selected nodes' files and carries every other file
of the previous tree as it is. The listings must then name what the tree holds: the
new files and the carried ones. Recomputing every listing would need to know, of
every carried file, whether it is a Kubernetes object (listed) or one of mlspec's own
documents (not listed), so would read the whole tree; instead only the directories
where something changed are listed anew, and everything else keeps its listing.

A directory is *dirty* when a file in it is written now or was removed, when it must
have a listing it did not have, or when it had one and holds no file of its own; a
directory whose listing appears or disappears makes its parent dirty. In a dirty
directory a carried file is an object exactly when the previous listing named it.
This gives the listings `layout.listings` gives for the whole tree, as long as
the previous tree is the one its manifest describes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from mlspec.compilers.base import Artifact
from mlspec.gitops.layout import KUSTOMIZATION, kustomization


@dataclass
class Relisted:
    written: list[Artifact] = field(default_factory=list)  # listings to write
    kept: list[str] = field(default_factory=list)  # listing paths carried as they are


def relisted(
    fresh: Mapping[str, bool],
    carried: Iterable[str],
    before: Iterable[str],
    previous_listing: Callable[[str], list[str]],
    required: Iterable[str],
) -> Relisted:
    """The listings of one environment (paths relative to it).

    ``fresh``: files written now -> whether each is a Kubernetes object; ``carried``:
    files kept from the previous tree; ``before``: every file of the previous manifest,
    listings included; ``previous_listing(directory)``: the resources it listed.
    """
    old_files = [p for p in before if not _is_listing(p)]
    listed_before = {_directory(p) for p in before if _is_listing(p)}
    names: dict[str, list[str]] = {}
    for path in [*fresh, *carried]:
        directory, _, name = path.rpartition("/")
        names.setdefault(directory, []).append(name)
    required = set(required)
    present = set(fresh).union(carried)
    dirty = {_directory(p) for p in fresh}
    dirty |= {_directory(p) for p in old_files if p not in present}
    dirty |= {d for d in required if d not in listed_before}
    dirty |= {d for d in listed_before if d not in names}
    children = _children([*names, *required, *listed_before])
    return _relist(dirty, names, children, fresh, listed_before, previous_listing, required)


def _relist(
    dirty: set[str],
    names: Mapping[str, list[str]],
    children: Mapping[str, set[str]],
    fresh: Mapping[str, bool],
    listed_before: set[str],
    previous_listing: Callable[[str], list[str]],
    required: set[str],
) -> Relisted:
    """Dirty directories deepest first, so that a child's listing is known first."""
    has: dict[str, bool] = {}
    queue = [(-_depth(d), d) for d in dirty]
    heapq.heapify(queue)
    result = Relisted()
    while queue:
        _, directory = heapq.heappop(queue)
        if directory in has:
            continue
        objects = _objects(
            directory, names.get(directory, []), fresh, listed_before, previous_listing
        )
        below = sorted(
            c
            for c in children.get(directory, ())
            if has.get(_join(directory, c), _join(directory, c) in listed_before)
        )
        has[directory] = bool(objects or below or directory in required)
        if has[directory]:
            result.written.append(kustomization(directory, objects, below))
        if directory and has[directory] != (directory in listed_before):
            parent = directory.rpartition("/")[0]
            if parent not in has:
                heapq.heappush(queue, (-_depth(parent), parent))
    result.kept = sorted(_join(d, KUSTOMIZATION) for d in listed_before if d not in has)
    return result


def _objects(
    directory: str,
    names: list[str],
    fresh: Mapping[str, bool],
    listed_before: set[str],
    previous_listing: Callable[[str], list[str]],
) -> list[str]:
    """The file names in ``directory`` that are Kubernetes objects."""
    carried = [n for n in names if _join(directory, n) not in fresh]
    listed = set(previous_listing(directory)) if carried and directory in listed_before else set()
    return [n for n in names if fresh.get(_join(directory, n), n in listed)]


def _children(directories: Iterable[str]) -> dict[str, set[str]]:
    children: dict[str, set[str]] = {}
    for directory in directories:
        while directory:
            parent, _, name = directory.rpartition("/")
            children.setdefault(parent, set()).add(name)
            directory = parent
    return children


def _is_listing(path: str) -> bool:
    return path.rpartition("/")[2] == KUSTOMIZATION


def _directory(path: str) -> str:
    return path.rpartition("/")[0]


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _depth(directory: str) -> int:
    return directory.count("/") + 1 if directory else 0
