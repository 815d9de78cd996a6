"""Source positions of every node of a loaded document, keyed by JSON pointer.

The loader records, for each node, where its value starts and (for mapping
members) where its key starts. Later stages (patches, templates) move nodes
around; they carry the positions along so that any error, however late, can be
reported at the line that produced it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from mlspec.diagnostics import Location

Path = tuple[str | int, ...]


def escape_token(token: str | int) -> str:
    text = str(token)
    if "~" not in text and "/" not in text:  # most tokens: checked faster than replaced
        return text
    return text.replace("~", "~0").replace("/", "~1")


def pointer(path: Iterable[str | int]) -> str:
    """JSON pointer (RFC 6901) of a path: ``("a", 0, "b/c")`` -> ``/a/0/b~1c``."""
    return "".join("/" + escape_token(token) for token in path)


def split_pointer(ptr: str) -> list[str]:
    if not ptr:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in ptr[1:].split("/")]


def parent_pointer(ptr: str) -> str:
    return ptr.rsplit("/", 1)[0] if ptr else ""


class NodeSource(NamedTuple):
    """Where a node came from: its value, and its key when it is a mapping member.

    A loaded spec has one per node (100k for 1,000 tenants) and few are ever asked for,
    so positions are kept as numbers (1-based) and made `Location`s when asked.
    """

    file: str
    line: int  # of the value
    col: int
    key_at: tuple[int, int] | None = None  # (line, col) of the key of a mapping member
    plain_text: str | None = None  # the source text of a plain (unquoted) scalar

    @property
    def value(self) -> Location:
        return Location(self.file, self.line, self.col)

    @property
    def key(self) -> Location | None:
        return None if self.key_at is None else Location(self.file, *self.key_at)


class SourceMap:
    """JSON pointer -> NodeSource. Lookups fall back to the nearest ancestor."""

    def __init__(self, entries: dict[str, NodeSource] | None = None) -> None:
        self._entries: dict[str, NodeSource] = dict(entries or {})
        self._sorted: list[str] | None = None  # sorted pointers, for subtree lookups

    def __contains__(self, ptr: str) -> bool:
        return ptr in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> Iterator[tuple[str, NodeSource]]:
        return iter(self._entries.items())

    def set(self, ptr: str, source: NodeSource) -> None:
        self._entries[ptr] = source
        self._sorted = None

    def get(self, ptr: str) -> NodeSource | None:
        return self._entries.get(ptr)

    def nearest(self, ptr: str) -> NodeSource | None:
        while True:
            found = self._entries.get(ptr)
            if found is not None or not ptr:
                return found
            ptr = parent_pointer(ptr)

    def value_location(self, ptr: str) -> Location | None:
        node = self.nearest(ptr)
        return node.value if node else None

    def key_location(self, ptr: str) -> Location | None:
        """Where the key of a mapping member starts (its value if it has no key)."""
        node = self.nearest(ptr)
        if node is None:
            return None
        return node.key or node.value

    def subtree(self, prefix: str) -> dict[str, NodeSource]:
        """Entries at ``prefix`` and below, keyed by their pointer relative to it."""
        return {ptr[len(prefix) :]: self._entries[ptr] for ptr in self._under(prefix)}

    def drop_subtree(self, prefix: str) -> None:
        for ptr in self._under(prefix):
            del self._entries[ptr]
        self._sorted = None

    def graft(self, prefix: str, relative: dict[str, NodeSource]) -> None:
        """Place entries, keyed by pointers relative to ``prefix``, under ``prefix``."""
        self._entries.update({prefix + rel: src for rel, src in relative.items()})
        self._sorted = None

    def _under(self, prefix: str) -> list[str]:
        """``prefix`` and the pointers below it, found by bisection in O(log n + k).

        Pointers below ``/a`` all start with ``/a/``, so they sit in one run of the
        sorted keys: from ``/a/`` up to ``/a0`` (``0`` follows ``/`` in ASCII).
        """
        if self._sorted is None:
            self._sorted = sorted(self._entries)
        keys = self._sorted
        start, end = bisect_left(keys, prefix + "/"), bisect_left(keys, prefix + "0")
        found = keys[start:end]
        return [prefix, *found] if prefix in self._entries else found

    def copy(self) -> SourceMap:
        return SourceMap(self._entries)
