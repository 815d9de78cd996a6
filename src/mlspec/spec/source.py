"""Source positions of every node of a loaded document, keyed by JSON pointer.

The loader records, for each node, where its value starts and (for mapping
members) where its key starts. Later stages (patches, templates) move nodes
around; they carry the positions along so that any error, however late, can be
reported at the line that produced it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mlspec.diagnostics import Location

Path = tuple[str | int, ...]


def escape_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(path: Iterable[str | int]) -> str:
    """JSON pointer (RFC 6901) of a path: ``("a", 0, "b/c")`` -> ``/a/0/b~1c``."""
    return "".join("/" + escape_token(token) for token in path)


def split_pointer(ptr: str) -> list[str]:
    if not ptr:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in ptr[1:].split("/")]


def parent_pointer(ptr: str) -> str:
    return ptr.rsplit("/", 1)[0] if ptr else ""


@dataclass(frozen=True)
class NodeSource:
    """Where a node came from: its value, and its key when it is a mapping member."""

    value: Location
    key: Location | None = None
    plain_text: str | None = None  # the source text of a plain (unquoted) scalar


class SourceMap:
    """JSON pointer -> NodeSource. Lookups fall back to the nearest ancestor."""

    def __init__(self, entries: dict[str, NodeSource] | None = None) -> None:
        self._entries: dict[str, NodeSource] = dict(entries or {})

    def __contains__(self, ptr: str) -> bool:
        return ptr in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> Iterator[tuple[str, NodeSource]]:
        return iter(self._entries.items())

    def set(self, ptr: str, source: NodeSource) -> None:
        self._entries[ptr] = source

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
        return {
            ptr[len(prefix) :]: src
            for ptr, src in self._entries.items()
            if ptr == prefix or ptr.startswith(prefix + "/")
        }

    def drop_subtree(self, prefix: str) -> None:
        for ptr in [p for p in self._entries if p == prefix or p.startswith(prefix + "/")]:
            del self._entries[ptr]

    def graft(self, prefix: str, relative: dict[str, NodeSource]) -> None:
        """Place entries, keyed by pointers relative to ``prefix``, under ``prefix``."""
        for rel, src in relative.items():
            self._entries[prefix + rel] = src

    def copy(self) -> SourceMap:
        return SourceMap(self._entries)
