"""The library entry points that the CLI (and users) call.

    validate(spec)      load and check a spec, per environment
    compile(spec, out)  validate, run the compilers, check, write the tree atomically

Heavy dependencies are imported by the compilers that need them, never here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.compilers.base import Artifact, CompileContext, load_compilers
from mlspec.diagnostics import Diagnostic, MlspecError, has_errors, sorted_unique
from mlspec.gitops.layout import arrange
from mlspec.output.checks import check_artifacts, check_schemas
from mlspec.output.emit import dump_yaml
from mlspec.output.writer import WriteError, WriteSummary, read_owned_manifest, write_tree
from mlspec.spec.frontend import SpecFile, Validated, validate_spec
from mlspec.spec.model import API_VERSION

MANIFEST_KIND = "CompiledTree"


def validate(spec: SpecFile, environments: Sequence[str] = ()) -> Validated:
    return validate_spec(spec, environments)


@dataclass
class Compiled:
    """What a compile produced: diagnostics, and the write summary if it wrote."""

    validated: Validated
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    written: WriteSummary | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def compile_spec(
    spec: SpecFile,
    environments: Sequence[str] = (),
    compilers: Sequence[str] = (),
) -> Compiled:
    """Validate and compile in memory; nothing is written."""
    validated = validate_spec(spec, environments)
    compiled = Compiled(validated, list(validated.diagnostics))
    if not validated.ok:
        return compiled
    plugins = load_compilers(compilers)
    artifacts: list[tuple[str, Artifact]] = []
    for env_name, env in sorted(validated.environments.items()):
        ctx = CompileContext(env_name, env.cluster, env.platform, env.sources, spec.name)
        env_artifacts: list[Artifact] = []
        for plugin in plugins:
            result = plugin.compile(ctx)
            compiled.diagnostics += result.diagnostics
            env_artifacts += result.artifacts
        artifacts += [(env_name, artifact) for artifact in arrange(ctx, env_artifacts)]
    locate = {name: env.sources.value_location for name, env in validated.environments.items()}
    problems = check_artifacts(artifacts, locate) + check_schemas(artifacts, locate)
    compiled.diagnostics = sorted_unique(compiled.diagnostics + problems)
    if compiled.ok:
        compiled.files = {
            f"{env}/{artifact.path}": dump_yaml(artifact.object).encode()
            for env, artifact in artifacts
        }
    return compiled


def compile_to(
    spec: SpecFile,
    out: Path,
    environments: Sequence[str] = (),
    compilers: Sequence[str] = (),
    allow_empty: bool = False,
) -> Compiled:
    """Compile and, when everything is right, swap the new tree into ``out``."""
    compiled = compile_spec(spec, environments, compilers)
    if not compiled.ok:
        return compiled
    if not compiled.files and not allow_empty:
        message = "the spec compiles to no objects; pass --allow-empty if that is intended"
        compiled.diagnostics.append(Diagnostic("MLS802", message))
        return compiled
    kept_files, kept_environments = _other_environments(out, environments)
    files = {**kept_files, **compiled.files}
    manifest = _manifest(spec, compiled.validated, kept_environments)
    try:
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
    try:
        files = {path: (out / path).read_bytes() for path in keep}
    except OSError as exc:
        message = f"cannot read {out}: {exc}; recompile every environment"
        raise MlspecError(Diagnostic("MLS903", message)) from exc
    return files, {env: v for env, v in described.items() if env not in environments}


def _manifest(
    spec: SpecFile, validated: Validated, kept_environments: dict[str, object]
) -> dict[str, object]:
    compiled = {
        name: {"cluster": env.cluster, "spec": spec.digest}
        for name, env in validated.environments.items()
    }
    return {
        "apiVersion": API_VERSION,
        "kind": MANIFEST_KIND,
        "spec": spec.name,
        "environments": dict(sorted({**kept_environments, **compiled}.items())),
    }
