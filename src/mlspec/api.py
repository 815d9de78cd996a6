"""The library entry points that the CLI (and users) call.

    validate(spec)      load and check a spec, per environment
    compile(spec, out)  validate, run the compilers, check, write the tree atomically

Heavy dependencies are imported by the compilers that need them, never here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.compilers.base import Artifact, CompileContext, load_compilers
from mlspec.diagnostics import Diagnostic, MlspecError, has_errors, sorted_unique
from mlspec.gitops.layout import KUSTOMIZATION, arrange, kustomizations
from mlspec.output.checks import check_artifacts, check_schemas, fingerprint
from mlspec.output.emit import dump_yaml
from mlspec.output.writer import WriteError, WriteSummary, read_owned_manifest, write_tree
from mlspec.policy import PolicyOptions, PolicyReport
from mlspec.policy import check as check_policies
from mlspec.policy import start as start_policies
from mlspec.spec.frontend import SpecFile, Validated, validate_spec
from mlspec.spec.model import API_VERSION
from mlspec.timing import stage

if TYPE_CHECKING:
    from mlspec.selection import EnvironmentSelection

MANIFEST_KIND = "CompiledTree"


def validate(
    spec: SpecFile,
    environments: Sequence[str] = (),
    policy: PolicyOptions | None = PolicyOptions(),  # noqa: B008 - frozen, never mutated
) -> Checked:
    """Validate ``spec``; when it is valid, run the policies on every environment (the
    default bundle and ``policy.policy_dirs``; ``policy=None`` skips them). A policy that
    cannot be loaded or evaluated raises MlspecError (exit 2): it is never a pass."""
    validated = validate_spec(spec, environments)
    checked = Checked(validated.spec, validated.environments, validated.diagnostics)
    if policy is not None and validated.ok:
        checked.policy = check_policies(validated, policy)
        checked.diagnostics = sorted_unique(checked.diagnostics + checked.policy.diagnostics)
    return checked


@dataclass
class Checked(Validated):
    """A validated spec and, when policies ran, what they said."""

    policy: PolicyReport | None = None


@dataclass
class Compiled:
    """What a compile produced: diagnostics, and the write summary if it wrote."""

    validated: Validated
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    written: WriteSummary | None = None
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
) -> Compiled:
    """Validate and compile in memory; nothing is written.

    With ``select`` (graph selection syntax, see selection.py) only the selected nodes'
    artifacts are kept; ``previous`` is the manifest that ``state:`` selectors compare with.
    """
    validated = validate_spec(spec, environments)
    compiled = Compiled(validated, list(validated.diagnostics))
    if not compiled.ok:
        return compiled
    policies = start_policies(validated, policy) if policy is not None else None
    plugins = load_compilers(compilers)
    artifacts: list[tuple[str, Artifact]] = []
    for env_name, env in sorted(validated.environments.items()):
        ctx = CompileContext(env_name, env.cluster, env.platform, env.sources, spec.name)
        env_artifacts: list[Artifact] = []
        for plugin in plugins:
            with stage(f"compile:{plugin.name}"):
                result = plugin.compile(ctx)
            compiled.diagnostics += result.diagnostics
            env_artifacts += result.artifacts
        with stage("gitops"):
            artifacts += [(env_name, artifact) for artifact in arrange(ctx, env_artifacts)]
    locate = {name: env.sources.value_location for name, env in validated.environments.items()}
    with stage("check"):
        problems = check_artifacts(artifacts, locate) + check_schemas(artifacts, locate)
    compiled.diagnostics = sorted_unique(compiled.diagnostics + problems)
    if policies is not None:
        with stage("policy (waiting for it)"):
            compiled.diagnostics = sorted_unique(
                compiled.diagnostics + policies.report().diagnostics
            )
    if compiled.ok:
        with stage("select"):
            artifacts = _select(compiled, artifacts, select, previous)
        with stage("emit"):
            compiled.files = _emit(artifacts)
    return compiled


def _emit(artifacts: list[tuple[str, Artifact]]) -> dict[str, bytes]:
    """YAML bytes per file; an object that recurs (in each environment) is emitted once."""
    emitted: dict[str, bytes] = {}
    files: dict[str, bytes] = {}
    for env, artifact in artifacts:
        key = fingerprint(artifact.object)
        if key not in emitted:
            emitted[key] = dump_yaml(artifact.object).encode()
        files[f"{env}/{artifact.path}"] = emitted[key]
    return files


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

    With ``select``, only the selected nodes' files are rewritten: every other file the
    previous compile wrote stays as it was, byte for byte.
    """
    previous = _previous_manifest(out) if select is not None else None
    compiled = compile_spec(spec, environments, compilers, select, previous, policy)
    if not compiled.ok:
        return compiled
    if not compiled.files and not allow_empty and (select is None or previous is None):
        message = "the spec compiles to no objects; pass --allow-empty if that is intended"
        compiled.diagnostics.append(Diagnostic("MLS802", message))
        return compiled
    kept_files, kept_environments = _other_environments(out, environments)
    kept_sources = _unselected(previous, compiled) if previous is not None else {}
    kept_files.update(_read_owned(out, kept_sources))
    files = {**kept_files, **compiled.files}
    if compiled.selection is not None:
        files.update(_relist(compiled, files))
    manifest = _manifest(spec, compiled, kept_environments, previous, kept_sources)
    try:
        with stage("write"):
            compiled.written = write_tree(out, files, manifest)
    except WriteError as exc:
        raise MlspecError(Diagnostic("MLS903", f"cannot write {out}: {exc}")) from exc
    return compiled


def drift(
    spec: SpecFile, out: Path, environments: Sequence[str] = ()
) -> tuple[Compiled, list[str]]:
    """What differs between ``out`` and what ``spec`` compiles to (``+``/``-``/``~ path``).

    Used by ``compile --check`` in CI to catch hand edits and forgotten recompiles.
    Only files mlspec owns are compared; the environments not named are ignored.
    """
    compiled = compile_spec(spec, environments)
    if not compiled.ok:
        return compiled, []
    manifest = read_owned_manifest(out) or {}
    owned = manifest.get("files", {})
    assert isinstance(owned, dict)
    compared = [p for p in owned if not environments or p.split("/", 1)[0] in environments]
    changes = [f"- {path}" for path in compared if path not in compiled.files]
    for path, content in compiled.files.items():
        target = out / path
        if path not in owned:
            changes.append(f"+ {path}")
        elif not target.is_file() or target.read_bytes() != content:
            changes.append(f"~ {path}")
    return compiled, sorted(changes, key=lambda change: (change[2:], change))


def _other_environments(
    out: Path, environments: Sequence[str]
) -> tuple[dict[str, bytes], dict[str, object]]:
    """Files and manifest entries of environments not compiled this time: kept as they are."""
    manifest = read_owned_manifest(out) if environments else None
    if not manifest:
        return {}, {}
    owned, described = manifest.get("files", {}), manifest.get("environments", {})
    assert isinstance(owned, dict) and isinstance(described, dict)
    keep = [path for path in owned if path.split("/", 1)[0] not in environments]
    files = _read_owned(out, keep)
    return files, {env: v for env, v in described.items() if env not in environments}


def _read_owned(out: Path, paths: Iterable[str]) -> dict[str, bytes]:
    """The bytes of files a previous compile wrote, to carry into the new tree."""
    try:
        return {path: (out / path).read_bytes() for path in paths}
    except OSError as exc:
        message = f"cannot read {out}: {exc}; recompile every environment"
        raise MlspecError(Diagnostic("MLS903", message)) from exc


def _previous_manifest(out: Path) -> dict[str, object] | None:
    try:
        return read_owned_manifest(out)
    except WriteError as exc:
        raise MlspecError(Diagnostic("MLS903", str(exc))) from exc


def _select(
    compiled: Compiled,
    artifacts: list[tuple[str, Artifact]],
    select: str | None,
    previous: Mapping[str, object] | None,
) -> list[tuple[str, Artifact]]:
    """Record node hashes and sources; keep only the selected nodes' artifacts."""
    from mlspec import selection  # not on `validate`'s path

    validated = compiled.validated
    compiled.nodes = selection.node_hashes(validated)
    if select is not None:
        try:
            chosen, warnings = selection.select_environments(
                validated, select, compiled.nodes, previous
            )
        except selection.SelectionError as exc:
            raise MlspecError(Diagnostic("MLS610", f"--select: {exc}")) from exc
        compiled.diagnostics = sorted_unique(compiled.diagnostics + warnings)
        compiled.selection = chosen
        artifacts = [
            (env, a)
            for env, a in artifacts
            if chosen[env].includes(a.source) and not _listing(a.path)
        ]
    compiled.sources = {f"{env}/{a.path}": a.source for env, a in artifacts}
    return artifacts


def _unselected(previous: Mapping[str, object], compiled: Compiled) -> dict[str, str | None]:
    """Files of the compiled environments that the previous compile wrote for nodes not
    selected now (path -> the spec pointer it came from, None if not recorded)."""
    chosen = compiled.selection or {}
    owned, described = previous.get("files"), previous.get("environments")
    kept: dict[str, str | None] = {}
    for path in owned if isinstance(owned, dict) else ():
        env = path.split("/", 1)[0]
        if env not in chosen or path in compiled.files or _listing(path):
            continue
        entry = described.get(env) if isinstance(described, dict) else None
        sources = entry.get("sources") if isinstance(entry, dict) else None
        source = sources.get(path) if isinstance(sources, dict) else None
        if not isinstance(source, str) or not chosen[env].includes(source):
            kept[path] = source if isinstance(source, str) else None
    return kept


def _listing(path: str) -> bool:
    return path.rpartition("/")[2] == KUSTOMIZATION


_API_VERSION = re.compile(rb'^apiVersion: "?([^"\n]*)', re.MULTILINE)


def _relist(compiled: Compiled, files: Mapping[str, bytes]) -> dict[str, bytes]:
    """Under a selection, the kustomizations of the compiled environments, listing what
    the tree now holds: the selected nodes' new files and the other nodes' kept ones."""
    listings: dict[str, bytes] = {}
    for env in compiled.selection or {}:
        prefix = env + "/"
        present = [
            Artifact(path[len(prefix) :], {"apiVersion": _api_version(content)}, "")
            for path, content in sorted(files.items())
            if path.startswith(prefix) and not _listing(path)
        ]
        tenants = compiled.validated.environments[env].platform.tenants
        for listing in kustomizations(present, [f"tenants/{t}" for t in tenants]):
            listings[prefix + listing.path] = dump_yaml(listing.object).encode()
    return listings


def _api_version(content: bytes) -> str:
    found = _API_VERSION.search(content)  # our own emitter's output: a top-level key
    return found.group(1).decode() if found else ""


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
