"""dbt-style node selection: ``--select "tenant:fraud,kind:deployment state:modified+"``.

    name | kind:name     nodes by name (globs allowed): ``fraud-scorer``,
                         ``deployment:fraud-scorer``, ``step:fraud-train/*``
    kind:deployment      every node of a kind
    tenant:fraud         every node of a tenant (the tenant itself included)
    state:modified       nodes whose content differs from the previous compile's
                         manifest.json, new nodes included; ``state:new`` only new ones
    +x  x+  +x+          with everything x depends on / that depends on x (graph.py)
    a b                  union (spaces);   a,b  intersection (commas)

The text is parsed into a small spec object (`SelectionUnion` of `SelectionIntersection`
of `SelectionCriteria`); each method is an object registered by name in `METHODS`.

Content hashes (`node_hashes`) are taken from the spec *before* environment patches
(templates expanded), plus the patch of the one environment restricted to the node:
what differs between environments is never a change, and editing an environment's
patch changes exactly the nodes it patches.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.graph import NODE_KINDS, Graph, Node
from mlspec.spec.frontend import Validated
from mlspec.spec.patch import environment_patch
from mlspec.spec.source import SourceMap, split_pointer
from mlspec.spec.templates import expand_templates

NODE_SECTIONS = frozenset(
    {"gpuPools", "tenants", "templates", "pipelines", "models", "deployments", "monitors"}
)
_TOKEN = re.compile(r"(?P<parents>\+?)(?P<body>[^+\s,]+?)(?P<children>\+?)\Z")
_ABSENT = object()


class SelectionError(ValueError):
    """The selector cannot be parsed or evaluated; the message is for the user."""


# --- the spec object ----------------------------------------------------------------------


@dataclass(frozen=True)
class SelectionCriteria:
    method: str
    value: str
    parents: bool = False
    children: bool = False
    raw: str = field(default="", compare=False)  # as written, for messages

    @classmethod
    def parse(cls, token: str) -> SelectionCriteria:
        match = _TOKEN.match(token)
        if match is None:
            raise SelectionError(f"invalid selector {token!r}")
        method, sep, value = match["body"].rpartition(":")
        method = method if sep else "name"
        if method not in METHODS:
            known = ", ".join(sorted(METHODS))
            raise SelectionError(f"unknown selector method {method!r} in {token!r}; known: {known}")
        if not value:
            raise SelectionError(f"selector {token!r} needs a value after {method}:")
        return cls(method, value, bool(match["parents"]), bool(match["children"]), token)


@dataclass(frozen=True)
class SelectionIntersection:
    components: tuple[SelectionCriteria, ...]


@dataclass(frozen=True)
class SelectionUnion:
    components: tuple[SelectionIntersection, ...]


def parse_selector(text: str) -> SelectionUnion:
    """``"a b,c"`` -> union of [a] and [b intersect c]."""
    words = text.split()
    if not words:
        raise SelectionError("empty selector")
    return SelectionUnion(
        tuple(
            SelectionIntersection(tuple(SelectionCriteria.parse(t) for t in word.split(",")))
            for word in words
        )
    )


# --- methods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """Node hashes now, and as the previous compile recorded them ({} when it had none)."""

    current: Mapping[str, str]
    previous: Mapping[str, str]


@dataclass(frozen=True)
class SelectionContext:
    graph: Graph
    state: State | None = None  # None: no previous manifest to compare with


class SelectorMethod(Protocol):
    def search(self, ctx: SelectionContext, value: str) -> Iterator[str]: ...


def _matches(text: str | None, pattern: str) -> bool:
    if text is None:
        return False
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(text, pattern)
    return text == pattern


class NameMethod:
    def search(self, ctx: SelectionContext, value: str) -> Iterator[str]:
        return (n.id for n in ctx.graph.nodes if _matches(n.name, value))


class NodeKindMethod:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def search(self, ctx: SelectionContext, value: str) -> Iterator[str]:
        return (n.id for n in ctx.graph.nodes if n.kind == self.kind and _matches(n.name, value))


class KindMethod:
    def search(self, ctx: SelectionContext, value: str) -> Iterator[str]:
        if value not in NODE_KINDS:
            raise SelectionError(f"unknown node kind {value!r}; kinds: {', '.join(NODE_KINDS)}")
        return (n.id for n in ctx.graph.nodes if n.kind == value)


class TenantMethod:
    def search(self, ctx: SelectionContext, value: str) -> Iterator[str]:
        return (n.id for n in ctx.graph.nodes if _matches(n.tenant, value))


class StateMethod:
    def search(self, ctx: SelectionContext, value: str) -> Iterator[str]:
        if value not in ("modified", "new"):
            raise SelectionError(f"unknown state {value!r}; use state:modified or state:new")
        if ctx.state is None:
            raise SelectionError(f"state:{value} needs the manifest.json of a previous compile")
        current, previous = ctx.state.current, ctx.state.previous
        if value == "new":
            return (n for n in current if n not in previous)
        return (n for n, digest in current.items() if previous.get(n) != digest)


METHODS: dict[str, SelectorMethod] = {
    "name": NameMethod(),
    "kind": KindMethod(),
    **{kind: NodeKindMethod(kind) for kind in NODE_KINDS if kind != "tenant"},
    "tenant": TenantMethod(),  # every node of the tenant, the tenant node among them
    "state": StateMethod(),
}


# --- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    nodes: frozenset[str]
    unmatched: tuple[str, ...]  # criteria that matched no node


def select(ctx: SelectionContext, spec: SelectionUnion) -> Selection:
    selected: set[str] = set()
    unmatched: list[str] = []
    for intersection in spec.components:
        found: set[str] | None = None
        for criteria in intersection.components:
            nodes = _evaluate(ctx, criteria)
            if not nodes:
                unmatched.append(criteria.raw)
            found = nodes if found is None else found & nodes
        selected |= found or set()
    return Selection(frozenset(selected), tuple(unmatched))


def _evaluate(ctx: SelectionContext, criteria: SelectionCriteria) -> set[str]:
    nodes = {n for n in METHODS[criteria.method].search(ctx, criteria.value) if n in ctx.graph}
    extra: set[str] = set()
    if criteria.parents:
        extra |= ctx.graph.ancestors(nodes)
    if criteria.children:
        extra |= ctx.graph.descendants(nodes)
    return nodes | extra


# --- content hashes and the previous manifest ----------------------------------------------


def node_hashes(
    validated: Validated, graphs: Mapping[str, Graph] | None = None
) -> dict[str, dict[str, str]]:
    """environment -> node id -> content hash, for every validated environment (whose
    graphs may be given: `environment_graphs`)."""
    document = validated.document
    if document is None:  # loaded when validated: a bug if not
        raise AssertionError(f"{validated.spec.display} was not loaded")
    base, _, _ = expand_templates(document, SourceMap())
    hashes: dict[str, dict[str, str]] = {}
    unpatched: dict[tuple[str, str], str] = {}  # the same in every environment
    for name, env in sorted(validated.environments.items()):
        found = environment_patch(document, name)
        patch = found[0] if found is not None else _ABSENT
        if graphs is not None:
            nodes: Iterable[Node] = graphs[name].nodes
        else:
            nodes = env.graph_elements.nodes.values()
        hashes[name] = {}
        for node in nodes:
            if node.kind == "platform" or _fragment(patch, node.pointer) is not _ABSENT:
                digest = content_hash(base, patch, name, node)
            else:
                key = (node.id, node.pointer)
                if key not in unpatched:
                    unpatched[key] = content_hash(base, _ABSENT, name, node)
                digest = unpatched[key]
            hashes[name][node.id] = digest
    return hashes


def environment_graphs(validated: Validated) -> dict[str, Graph]:
    """The graph of every validated environment."""
    return {name: Graph(env.graph_elements) for name, env in sorted(validated.environments.items())}


def content_hash(base: dict[str, Any], patch: Any, env: str, node: Node) -> str:
    """The hash of the node's base content and of the environment's patch of it."""
    if node.kind == "platform":
        content = {"base": _platform_part(base, env)}
        if isinstance(patch, dict):
            content["patch"] = {k: v for k, v in patch.items() if k not in NODE_SECTIONS}
    else:
        content = {"base": _fragment(base, node.pointer), "patch": _fragment(patch, node.pointer)}
        content = {k: v for k, v in content.items() if v is not _ABSENT}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _platform_part(base: dict[str, Any], env: str) -> dict[str, Any]:
    """Platform-wide settings: all but the node sections and the environments' patches."""
    part = {k: v for k, v in base.items() if k not in NODE_SECTIONS and k != "environments"}
    environments = base.get("environments")
    entry = environments.get(env) if isinstance(environments, dict) else None
    if isinstance(entry, dict):
        part["environment"] = {k: v for k, v in entry.items() if k != "patch"}
    return part


def _fragment(doc: Any, pointer: str) -> Any:
    """The value at ``pointer``; a merge patch's non-mapping on the way replaces it all."""
    if doc is _ABSENT:
        return _ABSENT
    for token in split_pointer(pointer):
        if not isinstance(doc, dict):
            return doc
        if token not in doc:
            return _ABSENT
        doc = doc[token]
    return doc


def previous_nodes(manifest: Mapping[str, object] | None, env: str) -> dict[str, str]:
    """The node hashes a previous compile recorded for ``env`` ({} if none)."""
    environments = manifest.get("environments") if manifest else None
    entry = environments.get(env) if isinstance(environments, dict) else None
    nodes = entry.get("nodes") if isinstance(entry, dict) else None
    if not isinstance(nodes, dict):
        return {}
    return {k: v for k, v in nodes.items() if isinstance(k, str) and isinstance(v, str)}


@dataclass(frozen=True)
class EnvironmentSelection:
    graph: Graph
    nodes: frozenset[str]

    def includes(self, source: str) -> bool:
        """Whether an artifact compiled from spec node ``source`` is selected."""
        return self.graph.node_for_pointer(source) in self.nodes


def select_environments(
    validated: Validated,
    text: str,
    hashes: Mapping[str, Mapping[str, str]],
    manifest: Mapping[str, object] | None,
    graphs: Mapping[str, Graph] | None = None,
) -> tuple[dict[str, EnvironmentSelection], list[Diagnostic]]:
    """Evaluate ``text`` in every validated environment; warn of criteria matching nothing."""
    spec = parse_selector(text)
    chosen: dict[str, EnvironmentSelection] = {}
    unmatched: list[set[str]] = []
    for name, env in sorted(validated.environments.items()):
        graph = graphs[name] if graphs is not None else Graph(env.graph_elements)
        state = State(hashes[name], previous_nodes(manifest, name)) if manifest else None
        result = select(SelectionContext(graph, state), spec)
        chosen[name] = EnvironmentSelection(graph, result.nodes)
        unmatched.append(set(result.unmatched))
    return chosen, _unmatched_warnings(unmatched)


def _unmatched_warnings(per_env: Iterable[set[str]]) -> list[Diagnostic]:
    sets = list(per_env)
    everywhere = set.intersection(*sets) if sets else set()
    return [
        Diagnostic("MLS611", f"selector `{c}` matches no node", severity=Severity.WARNING)
        for c in sorted(everywhere)
        if not c.startswith(("state:", "+state:"))
    ]
