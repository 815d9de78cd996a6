"""The library entry points that the CLI (and users) call.

    validate(spec)      load and check a spec, per environment (see validation.py)
    compile(spec, out)  validate, run the compilers, check, write the tree atomically

Heavy dependencies are imported by the compilers that need them, never here.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.compilers.ahead import run_compilers
from mlspec.compilers.base import (
    Artifact,
    CompileContext,
    Compiler,
    CompileResult,
    everything,
    load_compilers,
)
from mlspec.diagnostics import Diagnostic, MlspecError, has_errors, sorted_unique
from mlspec.gitops.layout import KUSTOMIZATION, engine_artifacts, listings, place, tenant_dirs
from mlspec.gitops.relist import relisted
from mlspec.output.emit import dump_yaml
from mlspec.output.stream import ArtifactStream, FileSink, MemorySink, Verdict
from mlspec.output.writer import TreeWriter, WriteError, WriteSummary, read_owned_manifest
from mlspec.policy import PolicyOptions
from mlspec.policy import new_run as new_policy_run
from mlspec.spec.frontend import SpecFile, Validated, validate_spec
from mlspec.spec.model import API_VERSION
from mlspec.timing import stage
from mlspec.validation import Checked as Checked  # re-exported: the validate entry point
from mlspec.validation import validate as validate

if TYPE_CHECKING:
    from mlspec.selection import EnvironmentSelection

MANIFEST_KIND = "CompiledTree"


@dataclass
class Compiled:
    """What a compile produced: diagnostics, and the write summary if it wrote."""

    validated: Validated
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: Mapping[str, bytes] = field(default_factory=dict)
    written: WriteSummary | None = None
    objects: dict[str, list[str]] = field(default_factory=dict)  # env -> its Kubernetes objects
    sources: dict[str, str] = field(default_factory=dict)  # file -> spec pointer it came from
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)  # env -> node -> hash
    selection: dict[str, EnvironmentSelection] | None = None  # env -> selected nodes

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def compile_spec(
    spec: SpecFile,
    environments: Sequence[str] = (),
    compilers: Sequence[str] = (),
    select: str | None = None,
    previous: Mapping[str, object] | None = None,
    policy: PolicyOptions | None = None,
    sink: FileSink | None = None,
    *,
    ahead: bool = True,
) -> Compiled:
    """Validate and compile; nothing is written.

    The files go to ``compiled.files``, or with ``sink`` to the sink as they are emitted
    (`compile_to` passes its staging tree); when the result is not ``ok`` the sink's
    content must be thrown away. With ``select`` (graph selection syntax, see
    selection.py) only the selected nodes' artifacts are compiled and kept; ``previous``
    is the manifest that ``state:`` selectors compare with. With ``ahead`` the compilers
    run in a worker process beside this one (compilers/ahead.py); the result is the same.
    """
    policies = new_policy_run(policy, len(spec.raw)) if policy is not None else None
    validated = validate_spec(spec, environments, on_valid=policies.start if policies else None)
    compiled = Compiled(validated, list(validated.diagnostics))
    if not compiled.ok:
        if policies is not None:
            policies.cancel()
        return compiled
    if policies is not None:
        policies.launch()  # the environments still waiting: they run while we compile
    memory = MemorySink()
    try:
        plugins = load_compilers(compilers)
        if select is not None:
            with stage("select"):
                _select(compiled, select, previous)
        with _validated_frozen():
            stream = _compile_all(compiled, plugins, memory if sink is None else sink, ahead)
    except BaseException:
        if policies is not None:
            policies.cancel()  # nobody will wait for them
        raise
    compiled.diagnostics = sorted_unique(compiled.diagnostics + stream.diagnostics)
    if policies is not None:
        with stage("policy (waiting for it)"):
            compiled.diagnostics = sorted_unique(
                compiled.diagnostics + policies.report().diagnostics
            )
    if compiled.ok:
        with stage("select"):
            _record(compiled, stream)
        compiled.files = memory.files
    return compiled


@contextlib.contextmanager
def _validated_frozen() -> Iterator[None]:
    """Keep the cyclic garbage collector off what exists already (the validated
    platforms: millions of objects at N = 5000) while compiling: every full collection
    walked them all again, a tenth of a large compile's time."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _compile_all(
    compiled: Compiled, plugins: Sequence[Compiler], sink: FileSink, ahead: bool
) -> ArtifactStream:
    """Run every compiler on every environment, one compiler at a time (``ahead``: in a
    worker process, ahead of this one, see compilers/ahead.py), and stream the artifacts
    through the checks into ``sink``: only one compiler's artifacts for one environment
    are alive here at a time (and its equal objects are emitted once)."""
    contexts = _contexts(compiled)
    locate = {name: ctx.sources.value_location for name, ctx in contexts.items()}
    stream = ArtifactStream(sink, locate)
    stream.writing = compiled.ok

    def prepare(plugin: Compiler, env: str, result: CompileResult, spare: bool) -> _Prepared:
        """The artifacts placed; and, in the worker when it has time to spare (this
        process is behind), their schema checks too."""
        placed = [place(contexts[env], a) for a in result.artifacts]
        verdicts = stream.verdicts(plugin.name, placed) if spare else []
        return _Prepared(placed, verdicts, result.diagnostics)

    with contextlib.closing(run_compilers(plugins, contexts, prepare, ahead)) as results:
        for _, done in itertools.groupby(results, key=lambda done: done.plugin.name):
            for env, prepared in ((d.env, d.result) for d in done):
                _add(compiled, stream, env, prepared.artifacts, prepared.verdicts)
                compiled.diagnostics += prepared.diagnostics
                if has_errors(prepared.diagnostics):
                    stream.halt()
            stream.forget()
    for env, ctx in contexts.items():
        with stage("gitops"):
            engine = engine_artifacts(ctx)
        _add(compiled, stream, env, engine)
    if compiled.selection is None:  # a selected compile lists the tree it updates
        for env, ctx in contexts.items():
            objects = stream.objects.get(env, [])
            with stage("gitops"):
                found = listings(objects, tenant_dirs(ctx))
            _add(compiled, stream, env, found)
    return stream


def _contexts(compiled: Compiled) -> dict[str, CompileContext]:
    spec_name = compiled.validated.spec.name
    contexts: dict[str, CompileContext] = {}
    for name, env in sorted(compiled.validated.environments.items()):
        chosen = compiled.selection[name].includes if compiled.selection is not None else None
        contexts[name] = CompileContext(
            name, env.cluster, env.platform, env.sources, spec_name, chosen or everything
        )
    return contexts


@dataclass
class _Prepared:
    """A compiler's result for one environment, placed, and schema-checked when the
    worker had time to spare (no verdicts otherwise: the stream checks them itself)."""

    artifacts: list[Artifact]
    verdicts: list[Verdict]
    diagnostics: list[Diagnostic]


def _add(
    compiled: Compiled,
    stream: ArtifactStream,
    env: str,
    artifacts: list[Artifact],
    verdicts: Sequence[Verdict | None] = (),
) -> None:
    """Stream the wanted ones (under a selection: the selected nodes' only), with their
    schema verdicts when already known."""
    chosen = compiled.selection[env].includes if compiled.selection is not None else everything
    for artifact, verdict in itertools.zip_longest(artifacts, verdicts):
        if chosen(artifact.source):
            stream.add(env, artifact, verdict)


def compile_to(
    spec: SpecFile,
    out: Path,
    environments: Sequence[str] = (),
    compilers: Sequence[str] = (),
    allow_empty: bool = False,
    select: str | None = None,
    policy: PolicyOptions | None = None,
) -> Compiled:
    """Compile and, when everything is right, swap the new tree into ``out``.

    Files are written into a sibling staging tree as they are emitted; it is thrown
    away unless every check passed. With ``select``, only the selected nodes' files are
    rewritten: every other file the previous compile wrote is carried over as it was
    (hard-linked, never read).
    """
    try:
        with TreeWriter(out) as tree:
            previous = tree.manifest if select is not None or environments else None
            compiled = compile_spec(spec, environments, compilers, select, previous, policy, tree)
            if compiled.ok:
                _finish(compiled, tree, spec, environments, allow_empty, previous)
    except WriteError as exc:
        raise MlspecError(Diagnostic("MLS903", f"cannot write {out}: {exc}")) from exc
    return compiled


def _finish(
    compiled: Compiled,
    tree: TreeWriter,
    spec: SpecFile,
    environments: Sequence[str],
    allow_empty: bool,
    previous: Mapping[str, object] | None,
) -> None:
    """Carry what this compile leaves as it was, then the manifest, then swap."""
    if not compiled.sources and not allow_empty and (compiled.selection is None or not previous):
        message = "the spec compiles to no objects; pass --allow-empty if that is intended"
        compiled.diagnostics.append(Diagnostic("MLS802", message))
        return
    kept_environments = _other_environments(tree, previous or {}, environments)
    kept_sources = _unselected(previous, compiled) if previous is not None else {}
    for path in kept_sources:
        tree.keep(path)
    if compiled.selection is not None:
        _relist(compiled, tree, previous or {}, kept_sources)
    manifest = _manifest(spec, compiled, kept_environments, previous, kept_sources)
    with stage("write"):
        compiled.written = tree.commit(manifest)
    compiled.files = WrittenFiles(tree.out_dir, list(compiled.sources))


class WrittenFiles(Mapping[str, bytes]):
    """The files a compile wrote, read back from the tree when asked for (the compile
    itself never holds them all)."""

    def __init__(self, root: Path, paths: list[str]) -> None:
        self._root, self._paths = root, paths
        self._known = frozenset(paths)

    def __getitem__(self, path: str) -> bytes:
        if path not in self._known:
            raise KeyError(path)
        return (self._root / path).read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def drift(
    spec: SpecFile, out: Path, environments: Sequence[str] = ()
) -> tuple[Compiled, list[str]]:
    """What differs between ``out`` and what ``spec`` compiles to (``+``/``-``/``~ path``).

    Used by ``compile --check`` in CI to catch hand edits and forgotten recompiles.
    Only files mlspec owns are compared; the environments not named are ignored.
    """
    sink = _DriftSink(out)
    compiled = compile_spec(spec, environments, sink=sink)
    if not compiled.ok:
        return compiled, []
    compared = [p for p in sink.owned if not environments or p.split("/", 1)[0] in environments]
    changes = sink.changes + [f"- {path}" for path in compared if path not in compiled.sources]
    return compiled, sorted(changes, key=lambda change: (change[2:], change))


class _DriftSink:
    """Compares each emitted file with ``out`` and keeps only what differs."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.changes: list[str] = []
        self._owned: dict[str, object] | None = None

    @property
    def owned(self) -> dict[str, object]:
        if self._owned is None:
            manifest = read_owned_manifest(self.out) or {}
            files = manifest.get("files", {})
            assert isinstance(files, dict)
            self._owned = files
        return self._owned

    def add(self, path: str, content: bytes) -> None:
        target = self.out / path
        if path not in self.owned:
            self.changes.append(f"+ {path}")
        elif not target.is_file() or target.read_bytes() != content:
            self.changes.append(f"~ {path}")


def _other_environments(
    tree: TreeWriter, previous: Mapping[str, object], environments: Sequence[str]
) -> dict[str, object]:
    """Carry the files of environments not compiled this time as they are; return their
    manifest entries."""
    if not environments or not previous:
        return {}
    owned, described = previous.get("files", {}), previous.get("environments", {})
    assert isinstance(owned, dict) and isinstance(described, dict)
    for path in owned:
        if path.split("/", 1)[0] not in environments:
            tree.keep(path)
    return {env: v for env, v in described.items() if env not in environments}


def _select(compiled: Compiled, select: str, previous: Mapping[str, object] | None) -> None:
    """Node hashes, and the nodes ``select`` chooses in each environment: before the
    compilers run, which then build the selected nodes' artifacts only."""
    from mlspec import selection  # not on `validate`'s path

    validated = compiled.validated
    graphs = selection.environment_graphs(validated)
    compiled.nodes = selection.node_hashes(validated, graphs)
    try:
        chosen, warnings = selection.select_environments(
            validated, select, compiled.nodes, previous, graphs
        )
    except selection.SelectionError as exc:
        raise MlspecError(Diagnostic("MLS610", f"--select: {exc}")) from exc
    compiled.diagnostics = sorted_unique(compiled.diagnostics + warnings)
    compiled.selection = chosen


def _record(compiled: Compiled, stream: ArtifactStream) -> None:
    """Node hashes (if the selection did not take them) and each file's source."""
    if compiled.selection is None:
        from mlspec import selection  # not on `validate`'s path

        compiled.nodes = selection.node_hashes(compiled.validated)
    compiled.sources = stream.sources
    compiled.objects = stream.objects


def _unselected(previous: Mapping[str, object], compiled: Compiled) -> dict[str, str | None]:
    """Files of the compiled environments that the previous compile wrote for nodes not
    selected now (path -> the spec pointer it came from, None if not recorded)."""
    chosen = compiled.selection or {}
    owned, described = previous.get("files"), previous.get("environments")
    kept: dict[str, str | None] = {}
    for path in owned if isinstance(owned, dict) else ():
        env = path.split("/", 1)[0]
        if env not in chosen or path in compiled.sources or _listing(path):
            continue
        entry = described.get(env) if isinstance(described, dict) else None
        sources = entry.get("sources") if isinstance(entry, dict) else None
        source = sources.get(path) if isinstance(sources, dict) else None
        if not isinstance(source, str) or not chosen[env].includes(source):
            kept[path] = source if isinstance(source, str) else None
    return kept


def _listing(path: str) -> bool:
    return path.rpartition("/")[2] == KUSTOMIZATION


def _relist(
    compiled: Compiled,
    tree: TreeWriter,
    previous: Mapping[str, object],
    kept: Mapping[str, str | None],
) -> None:
    """Under a selection, the kustomizations of the compiled environments, listing what
    the tree now holds: the selected nodes' new files and the other nodes' kept ones.
    Listings of directories where nothing changed are carried as they are."""
    owned = previous.get("files")
    before = list(owned) if isinstance(owned, dict) else []
    for env in compiled.selection or {}:
        prefix = env + "/"
        objects = set(compiled.objects.get(env, ()))
        fresh = {
            path[len(prefix) :]: path[len(prefix) :] in objects
            for path in compiled.sources
            if path.startswith(prefix)
        }
        update = relisted(
            fresh,
            [path[len(prefix) :] for path in kept if path.startswith(prefix)],
            [path[len(prefix) :] for path in before if path.startswith(prefix)],
            functools.partial(_previous_listing, tree.out_dir / env),
            [f"tenants/{t}" for t in compiled.validated.environments[env].platform.tenants],
        )
        for listing in update.written:
            tree.add(prefix + listing.path, dump_yaml(listing.object).encode())
        for path in update.kept:
            tree.keep(prefix + path)


def _previous_listing(root: Path, name: str) -> list[str]:
    """The resources a previous compile listed in directory ``name`` of ``root``."""
    import yaml

    directory = root / name
    try:
        data = yaml.safe_load((directory / KUSTOMIZATION).read_bytes())
    except (OSError, yaml.YAMLError) as exc:
        message = f"cannot read {directory / KUSTOMIZATION}: {exc}; recompile without --select"
        raise MlspecError(Diagnostic("MLS903", message)) from exc
    resources = data.get("resources") if isinstance(data, dict) else None
    return [str(r) for r in resources] if isinstance(resources, list) else []


def _environment_entry(
    compiled: Compiled,
    name: str,
    previous: Mapping[str, object] | None,
    kept_sources: Mapping[str, str | None],
) -> dict[str, object]:
    """Node hashes and file sources of one environment; under a selection, unselected
    nodes keep the hash of the compile that wrote their files."""
    nodes = compiled.nodes.get(name, {})
    if compiled.selection is not None:
        from mlspec.selection import previous_nodes

        before = previous_nodes(previous, name)
        chosen = compiled.selection[name].nodes
        nodes = {
            n: h if n in chosen else before[n]
            for n, h in nodes.items()
            if n in chosen or n in before
        }
    sources = {**kept_sources, **compiled.sources}
    prefix = name + "/"
    return {
        "nodes": nodes,
        "sources": {p: s for p, s in sorted(sources.items()) if p.startswith(prefix) and s},
    }


def _manifest(
    spec: SpecFile,
    compiled_spec: Compiled,
    kept_environments: dict[str, object],
    previous: Mapping[str, object] | None = None,
    kept_sources: Mapping[str, str | None] | None = None,
) -> dict[str, object]:
    validated = compiled_spec.validated
    compiled = {
        name: {
            "cluster": env.cluster,
            "spec": spec.digest,
            **_environment_entry(compiled_spec, name, previous, kept_sources or {}),
        }
        for name, env in validated.environments.items()
    }
    return {
        "apiVersion": API_VERSION,
        "kind": MANIFEST_KIND,
        "spec": spec.name,
        "environments": dict(sorted({**kept_environments, **compiled}.items())),
    }
