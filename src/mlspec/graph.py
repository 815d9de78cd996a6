"""The platform as one graph: every object a node, every reference a typed edge.

Two layers, so that `mlspec validate` stays fast:

* `extract(platform, sources)` -> `Elements`: plain nodes and edges, each with the JSON
  pointer and file:line:col it comes from. Pure Python, linear in the spec; the
  validate-time checks (`graph_checks.py`) work on it.
* `Graph`: networkx behind a few domain verbs (`ancestors`, `descendants`, `upstream`,
  `downstream`, `subgraph`, `node_for_pointer`), for selection, export and explain.
  networkx is imported when a `Graph` is built, never at module import.

Node ids are ``<kind>:<name>``; steps and model versions are named within their
parent: ``step:fraud-train/train``, ``modelVersion:fraud-detector/7``. The ``platform``
node stands for the platform-wide settings (metadata, gitops, scheduling ...), which
every compiled object depends on.

Edges read as sentences in the direction they are stored (``deployment serves
modelVersion``). ``EDGE_KINDS`` says for each kind which end is *upstream*: the end the
other depends on, whose change may change the other's output. Ancestors, descendants
and ``x+`` selection follow upstream -> downstream. In that orientation the feedback
loop pipeline -> model -> deployment -> monitor -> (retrains) pipeline is no cycle: the
monitor depends on the pipeline it triggers, not the other way round.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from mlspec.diagnostics import Location
from mlspec.spec.model import Platform, Resources
from mlspec.spec.source import SourceMap, escape_token, parent_pointer

NODE_KINDS = (
    "platform",
    "gpuPool",
    "tenant",
    "template",
    "pipeline",
    "step",
    "model",
    "modelVersion",
    "deployment",
    "monitor",
)

# Edge kind -> True when the edge's source is upstream of its target, False when the
# target is upstream of the source.
EDGE_KINDS: dict[str, bool] = {
    "configures": True,  # platform -> tenant | gpuPool: platform-wide settings
    "owns": True,  # tenant -> pipeline | model | deployment | monitor
    "uses-pool": False,  # tenant (quota) | step | deployment -> gpuPool
    "instantiates": False,  # pipeline -> template
    "step-of": True,  # step -> pipeline: the pipeline is built from its steps
    "feeds": True,  # step -> step: an output of one is an input of the other
    "produces": True,  # step -> model: the step's output is registered as the model
    "version-of": False,  # modelVersion -> model
    "serves": False,  # deployment -> modelVersion (aliases resolved)
    "canary-of": True,  # modelVersion -> deployment: the version is its canary
    "watches": False,  # monitor -> deployment
    "retrains": False,  # monitor -> pipeline: the monitor triggers the pipeline on drift
}


class Node(NamedTuple):
    id: str
    kind: str
    name: str
    tenant: str | None  # the owning tenant; a tenant node's is itself
    pointer: str  # JSON pointer of the spec node
    location: Location | None


class Edge(NamedTuple):
    source: str
    target: str
    kind: str
    pointer: str  # JSON pointer of the reference that makes the edge
    location: Location | None

    @property
    def upstream(self) -> str:
        return self.source if EDGE_KINDS[self.kind] else self.target

    @property
    def downstream(self) -> str:
        return self.target if EDGE_KINDS[self.kind] else self.source


class Elements(NamedTuple):
    """Nodes (by id, sorted) and edges (sorted); references to missing nodes apart."""

    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    unresolved: tuple[Edge, ...] = ()


def node_id(kind: str, *names: str | int) -> str:
    return f"{kind}:" + "/".join(str(n) for n in names)


def ptr(*tokens: str | int) -> str:
    return "".join("/" + escape_token(t) for t in tokens)


class _Builder:
    def __init__(self, sources: SourceMap) -> None:
        self.sources = sources
        self.nodes: dict[str, Node] = {}
        self.edges: dict[tuple[str, str, str], Edge] = {}

    def node(self, kind: str, name: str, tenant: str | None, pointer: str) -> str:
        nid = node_id(kind, name)
        self.nodes[nid] = Node(nid, kind, name, tenant, pointer, self.sources.key_location(pointer))
        return nid

    def edge(self, source: str, target: str, kind: str, pointer: str, at_key: bool = False) -> None:
        if (source, target, kind) not in self.edges:
            where = self.sources.key_location if at_key else self.sources.value_location
            self.edges[(source, target, kind)] = Edge(source, target, kind, pointer, where(pointer))

    def elements(self) -> Elements:
        edges = [edge for _, edge in sorted(self.edges.items())]
        resolved = [e for e in edges if e.source in self.nodes and e.target in self.nodes]
        missing = [e for e in edges if e.source not in self.nodes or e.target not in self.nodes]
        return Elements(dict(sorted(self.nodes.items())), tuple(resolved), tuple(missing))


def extract(platform: Platform, sources: SourceMap) -> Elements:
    """The nodes and edges of ``platform`` (references already checked, or not)."""
    b = _Builder(sources)
    root = b.node("platform", platform.metadata.name, None, "/metadata/name")
    for name in platform.gpu_pools:
        where = ptr("gpuPools", name)
        b.edge(root, b.node("gpuPool", name, None, where), "configures", where, at_key=True)
    for name in platform.templates:
        b.node("template", name, None, ptr("templates", name))
    _tenants(b, platform, root)
    _pipelines(b, platform)
    _models(b, platform)
    _deployments(b, platform)
    _monitors(b, platform)
    return b.elements()


def _owned(b: _Builder, kind: str, name: str, tenant: str, section: str) -> str:
    nid = b.node(kind, name, tenant, ptr(section, name))
    b.edge(node_id("tenant", tenant), nid, "owns", ptr(section, name, "tenant"))
    return nid


def _uses_pool(b: _Builder, nid: str, resources: Resources | None, pointer: str) -> None:
    if resources is not None and resources.gpu is not None:
        pool = node_id("gpuPool", resources.gpu.pool)
        b.edge(nid, pool, "uses-pool", f"{pointer}/resources/gpu/pool")


def _tenants(b: _Builder, platform: Platform, root: str) -> None:
    for name, tenant in platform.tenants.items():
        nid = b.node("tenant", name, name, ptr("tenants", name))
        b.edge(root, nid, "configures", ptr("tenants", name), at_key=True)
        for section in ("gpu", "borrow"):
            for pool in getattr(tenant.quota, section):
                where = ptr("tenants", name, "quota", section, pool)
                b.edge(nid, node_id("gpuPool", pool), "uses-pool", where, at_key=True)


def _pipelines(b: _Builder, platform: Platform) -> None:
    for name, pipeline in platform.pipelines.items():
        nid = _owned(b, "pipeline", name, pipeline.tenant, "pipelines")
        if pipeline.template is not None:
            template = node_id("template", pipeline.template)
            b.edge(nid, template, "instantiates", ptr("pipelines", name, "template"))
        for step_name, step in pipeline.steps.items():
            where = ptr("pipelines", name, "steps", step_name)
            sid = b.node("step", f"{name}/{step_name}", pipeline.tenant, where)
            b.edge(sid, nid, "step-of", where, at_key=True)
            _uses_pool(b, sid, step.resources, where)
            for input_name, ref in sorted(step.inputs.items()):
                producer = node_id("step", name, ref.partition(".")[0])
                b.edge(producer, sid, "feeds", f"{where}/inputs/{escape_token(input_name)}")
        for model, output in pipeline.produces.items():
            producer = node_id("step", name, output.partition(".")[0])
            where = ptr("pipelines", name, "produces", model)
            b.edge(producer, node_id("model", model), "produces", where, at_key=True)


def _models(b: _Builder, platform: Platform) -> None:
    for name, model in platform.models.items():
        mid = _owned(b, "model", name, model.tenant, "models")
        for version in model.versions:
            where = ptr("models", name, "versions", version)
            vid = b.node("modelVersion", f"{name}/{version}", model.tenant, where)
            b.edge(vid, mid, "version-of", where, at_key=True)


def version_node(platform: Platform, model: str, ref: int | str) -> str:
    """The node a version reference (number or alias) resolves to, existing or not."""
    found = platform.models.get(model)
    if isinstance(ref, str) and found is not None and ref in found.aliases:
        ref = found.aliases[ref]
    return node_id("modelVersion", model, ref)


def _deployments(b: _Builder, platform: Platform) -> None:
    for name, deployment in platform.deployments.items():
        nid = _owned(b, "deployment", name, deployment.tenant, "deployments")
        where = ptr("deployments", name)
        _uses_pool(b, nid, deployment.resources, where)
        served = version_node(platform, deployment.model, deployment.version)
        b.edge(nid, served, "serves", f"{where}/version")
        if deployment.canary is not None:
            canary = version_node(platform, deployment.model, deployment.canary.version)
            b.edge(canary, nid, "canary-of", f"{where}/canary/version")


def _monitors(b: _Builder, platform: Platform) -> None:
    for name, monitor in platform.monitors.items():
        nid = _owned(b, "monitor", name, monitor.tenant, "monitors")
        where = ptr("monitors", name)
        deployment = node_id("deployment", monitor.deployment)
        b.edge(nid, deployment, "watches", f"{where}/deployment")
        if monitor.on_drift is not None:
            pipeline = node_id("pipeline", monitor.on_drift.retrain)
            b.edge(nid, pipeline, "retrains", f"{where}/onDrift/retrain")


class Graph:
    """The platform graph, upstream -> downstream; callers never see networkx."""

    def __init__(self, elements: Elements) -> None:
        import networkx as nx  # type: ignore[import-untyped,unused-ignore]

        self._elements = elements
        self._graph: Any = nx.DiGraph()
        self._graph.add_nodes_from(elements.nodes)
        self._graph.add_edges_from((e.upstream, e.downstream) for e in elements.edges)
        self._root = next((n.id for n in self.nodes if n.kind == "platform"), "")
        self._by_pointer = {n.pointer: n.id for n in self.nodes if n.kind != "platform"}

    def __contains__(self, nid: object) -> bool:
        return nid in self._elements.nodes

    @property
    def nodes(self) -> list[Node]:
        return list(self._elements.nodes.values())

    @property
    def edges(self) -> tuple[Edge, ...]:
        return self._elements.edges

    def node(self, nid: str) -> Node:
        return self._elements.nodes[nid]

    def ancestors(self, nids: Iterable[str]) -> set[str]:
        """Everything the given nodes depend on, transitively (not themselves)."""
        return self._reach(nids, self._graph.predecessors)

    def descendants(self, nids: Iterable[str]) -> set[str]:
        """Everything that depends on the given nodes, transitively (not themselves)."""
        return self._reach(nids, self._graph.successors)

    def upstream(self, nid: str) -> list[Edge]:
        """The edges to what ``nid`` directly depends on."""
        return [e for e in self.edges if e.downstream == nid]

    def downstream(self, nid: str) -> list[Edge]:
        """The edges to what directly depends on ``nid``."""
        return [e for e in self.edges if e.upstream == nid]

    def subgraph(self, nids: Iterable[str]) -> Graph:
        """The given nodes and the edges between them."""
        keep = set(nids)
        nodes = {k: v for k, v in self._elements.nodes.items() if k in keep}
        edges = tuple(e for e in self.edges if e.source in keep and e.target in keep)
        return Graph(Elements(nodes, edges))

    def node_for_pointer(self, pointer: str) -> str:
        """The node a spec pointer belongs to: the nearest enclosing node, else platform
        (the empty string in a subgraph without the platform node)."""
        while pointer:
            found = self._by_pointer.get(pointer)
            if found is not None:
                return found
            pointer = parent_pointer(pointer)
        return self._root

    def as_data(self) -> dict[str, Any]:
        """Nodes and edges as plain, sorted, JSON-ready data (also the policy input)."""
        return {
            "nodes": [_node_data(n) for n in self.nodes],
            "edges": [_edge_data(e) for e in self.edges],
        }

    def _reach(self, nids: Iterable[str], neighbours: Callable[[str], Iterator[str]]) -> set[str]:
        """Multi-source breadth-first search: linear in the graph, however many sources."""
        start = [n for n in nids if n in self]
        seen: set[str] = set()
        queue = deque(start)
        while queue:
            for other in neighbours(queue.popleft()):
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
        return seen


def _location_data(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"file": location.file, "line": location.line, "col": location.col}


def _node_data(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "kind": node.kind,
        "name": node.name,
        "tenant": node.tenant,
        "pointer": node.pointer,
        "location": _location_data(node.location),
    }


def _edge_data(edge: Edge) -> dict[str, Any]:
    return {
        "source": edge.source,
        "target": edge.target,
        "kind": edge.kind,
        "upstream": edge.upstream,
        "pointer": edge.pointer,
        "location": _location_data(edge.location),
    }


def build_graph(platform: Platform, sources: SourceMap) -> Graph:
    return Graph(extract(platform, sources))
