"""Checks on the platform graph, each reported at the spec line that causes it (MLS60x).

    MLS601  error    steps whose data flow forms a cycle (the cycle listed in order)
    MLS602  error    an object referring to another tenant's object (unless the model
                     is `shared: true`, for serving)
    MLS603  error    a deployment serving a version that nothing provides
    MLS604  warning  a model that no deployment serves

Only the data flow between steps (``feeds``) orders work, so only it can deadlock: the
feedback loop pipeline -> model -> deployment -> monitor -> (retrains) pipeline is how
retraining works and is never reported. These checks run on `graph.extract`'s plain
nodes and edges, without networkx, because `mlspec validate` runs them.

MLS603 backs up MLS305: references.py already refuses a version or alias the model does
not declare, and every declared version has a `source`, so after the reference checks
pass it only fires on platforms built without them.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator

from mlspec.diagnostics import Diagnostic, Location, Severity
from mlspec.graph import Edge, Elements, Node, extract
from mlspec.spec.model import Platform
from mlspec.spec.source import SourceMap

_SERVING = ("serves", "canary-of")


def check_graph(
    platform: Platform, sources: SourceMap, elements: Elements | None = None
) -> list[Diagnostic]:
    """Every graph check on one environment's platform."""
    found = elements if elements is not None else extract(platform, sources)
    return [
        *dataflow_cycles(found),
        *cross_tenant_references(platform, found),
        *unprovided_versions(found),
        *unserved_models(found),
    ]


# --- MLS601: data-flow cycles -------------------------------------------------------------


def dataflow_cycles(elements: Elements) -> Iterator[Diagnostic]:
    """One error per strongly connected set of steps, naming one cycle through it."""
    feeds = {(e.source, e.target): e for e in elements.edges if e.kind == "feeds"}
    adjacency: dict[str, list[str]] = defaultdict(list)
    for source, target in sorted(feeds):
        adjacency[source].append(target)
    for component in strongly_connected(adjacency):
        cycle = _cycle_through(component[0], set(component), adjacency)
        closing = [feeds[(a, b)] for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True)]
        pipeline, _, _ = elements.nodes[cycle[0]].name.partition("/")
        names = [elements.nodes[step].name.partition("/")[2] for step in cycle]
        yield Diagnostic(
            "MLS601",
            f"the steps of pipeline {pipeline} form a data-flow cycle: "
            + " -> ".join([*names, names[0]]),
            closing[-1].location,
            closing[-1].pointer,
            "a step can only consume the outputs of steps that run before it",
            related=_locations(closing[:-1]),
        )


def strongly_connected(adjacency: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one node, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(adjacency):
        if root in index:
            continue
        work = [(root, iter(adjacency.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c not in index or c in on_stack), None)
            if child is not None and child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(adjacency.get(child, ()))))
            elif child is not None:
                low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    found.extend(_pop_component(node, stack, on_stack))
    return sorted(found)


def _pop_component(node: str, stack: list[str], on_stack: set[str]) -> list[list[str]]:
    component: list[str] = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == node:
            return [sorted(component)] if len(component) > 1 else []


def _cycle_through(start: str, members: set[str], adjacency: dict[str, list[str]]) -> list[str]:
    """The shortest cycle from ``start`` back to itself, first in name order."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in adjacency[node]:
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if child in members and child not in parent:
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is on no cycle")  # it is in a strongly connected set


def _locations(edges: list[Edge]) -> tuple[Location, ...]:
    return tuple(e.location for e in edges if e.location is not None)


# --- MLS602: cross-tenant references -------------------------------------------------------


def cross_tenant_references(platform: Platform, elements: Elements) -> Iterator[Diagnostic]:
    """An edge between objects of two tenants, except serving a shared model."""
    for edge in elements.edges:
        source, target = elements.nodes[edge.source], elements.nodes[edge.target]
        if source.tenant is None or target.tenant is None or source.tenant == target.tenant:
            continue
        if edge.kind in _SERVING and _model_is_shared(platform, edge, elements):
            continue
        yield _cross_tenant(edge, source, target)


def _model_of(version: Node) -> str:
    return version.name.partition("/")[0]


def _model_is_shared(platform: Platform, edge: Edge, elements: Elements) -> bool:
    version = elements.nodes[edge.target if edge.kind == "serves" else edge.source]
    return platform.models[_model_of(version)].shared


def _cross_tenant(edge: Edge, source: Node, target: Node) -> Diagnostic:
    if edge.kind in _SERVING:
        deployment, version = (source, target) if edge.kind == "serves" else (target, source)
        model = _model_of(version)
        what = "canary" if edge.kind == "canary-of" else "version"
        message = (
            f"deployment {deployment.name} of tenant {deployment.tenant} serves a {what} of "
            f"model {model} of tenant {version.tenant}"
        )
        hint = f"set `shared: true` on model {model} to let other tenants serve it"
    else:
        message = (
            f"{source.kind} {source.name} of tenant {source.tenant} {edge.kind} "
            f"{target.kind} {target.name} of tenant {target.tenant}"
        )
        hint = f"refer to an object of tenant {source.tenant}, or move one of them"
    return Diagnostic(
        "MLS602",
        f"cross-tenant reference: {message}",
        edge.location,
        edge.pointer,
        hint,
        related=(target.location,) if target.location is not None else (),
    )


# --- MLS603 / MLS604: serving -------------------------------------------------------------


def unprovided_versions(elements: Elements) -> Iterator[Diagnostic]:
    for edge in elements.unresolved:
        if edge.kind not in _SERVING:
            continue
        version = edge.target if edge.kind == "serves" else edge.source
        model, _, number = version.partition(":")[2].partition("/")
        deployment = edge.source if edge.kind == "serves" else edge.target
        yield Diagnostic(
            "MLS603",
            f"deployment {deployment.partition(':')[2]} serves version {number} of model "
            f"{model}, which no version source or pipeline provides",
            edge.location,
            edge.pointer,
            f"declare version {number} (with its `source`) in model {model}",
        )


def unserved_models(elements: Elements) -> Iterator[Diagnostic]:
    served = {
        _model_of(elements.nodes[e.target if e.kind == "serves" else e.source])
        for e in elements.edges
        if e.kind in _SERVING
    }
    for node in elements.nodes.values():
        if node.kind == "model" and node.name not in served:
            yield Diagnostic(
                "MLS604",
                f"model {node.name} is not served by any deployment",
                node.location,
                node.pointer,
                "deploy it, or remove it if it is no longer needed",
                Severity.WARNING,
            )
