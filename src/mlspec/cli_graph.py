"""`mlspec graph`, `mlspec explain` and `mlspec capacity`: the platform seen whole.

Click wiring and renderers only; the graph, selection and figures live in graph.py,
selection.py and analysis.py. Cheap to import: those are imported inside the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mlspec.diagnostics import Diagnostic, ExitCode, MlspecError, Severity, has_errors

if TYPE_CHECKING:
    from mlspec.graph import Edge, Graph
    from mlspec.spec.frontend import EnvironmentSpec, SpecFile, Validated

ENV_HELP = "The environment to look at. Default: the first in name order."
SELECT_HELP = (
    "Nodes to show (repeatable; spaces unite, commas intersect): `fraud-scorer`, "
    "`deployment:fraud-scorer`, `tenant:fraud`, `kind:model`, `+x` (and what x depends on), "
    "`x+` (and what depends on x), `state:modified` (needs --state)."
)


def _write_diagnostics(diagnostics: list[Diagnostic]) -> None:
    from mlspec.reporting import reporter_for

    if diagnostics:
        sys.stderr.write(reporter_for("text", colour=sys.stderr.isatty()).render(diagnostics, ""))


def _fail(diagnostic: Diagnostic, code: ExitCode = ExitCode.TOOL_ERROR) -> NoReturn:
    _write_diagnostics([diagnostic])
    sys.exit(code)


@contextmanager
def _guarded() -> Iterator[None]:
    from mlspec.selection import SelectionError

    try:
        yield
    except MlspecError as exc:
        _fail(exc.diagnostic)
    except SelectionError as exc:
        _fail(Diagnostic("MLS610", f"--select: {exc}"))


def _load(spec: Path, env: str | None) -> tuple[SpecFile, Validated, EnvironmentSpec]:
    """The validated spec and the environment to look at; exit 1 when it is invalid."""
    from mlspec.spec.frontend import SpecFile, validate_spec

    spec_file = SpecFile.read(spec)
    validated = validate_spec(spec_file, [env] if env else [])
    _write_diagnostics(validated.diagnostics)
    if not validated.ok or not validated.environments:
        sys.exit(ExitCode.INPUT_ERROR if has_errors(validated.diagnostics) else ExitCode.OK)
    name = env or sorted(validated.environments)[0]
    return spec_file, validated, validated.environments[name]


# --- mlspec graph ---------------------------------------------------------------------------


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--env", default=None, metavar="NAME", help=ENV_HELP)
@click.option("--select", "-s", "select", multiple=True, metavar="SELECTOR", help=SELECT_HELP)
@click.option(
    "--state",
    type=click.Path(path_type=Path),
    default=None,
    help="A previous compile's output directory (or its manifest.json), for state: selectors.",
)
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid")
def graph(
    spec: Path, env: str | None, select: tuple[str, ...], state: Path | None, fmt: str
) -> None:
    """Print the dependency graph of SPEC: nodes, typed edges and their spec lines.

    Mermaid renders in GitHub comments; json carries every node and edge with its
    location. Edges read `source kind target` (deployment serves modelVersion).
    """
    from mlspec.graph import build_graph

    with _guarded():
        _, validated, chosen = _load(spec, env)
        shown = build_graph(chosen.platform, chosen.sources)
        if select:
            nodes = _select(validated, chosen.name, shown, " ".join(select), state)
            shown = shown.subgraph(nodes)
        sys.stdout.write(_RENDERERS[fmt](shown, chosen.name))


def _select(
    validated: Validated, env: str, shown: Graph, text: str, state: Path | None
) -> frozenset[str]:
    from mlspec.output.writer import WriteError, read_owned_manifest
    from mlspec.selection import (
        SelectionContext,
        State,
        node_hashes,
        parse_selector,
        previous_nodes,
        select,
    )

    parsed = parse_selector(text)
    found: State | None = None
    if state is not None:
        directory = state.parent if state.name == "manifest.json" else state
        try:
            manifest = read_owned_manifest(directory)
        except WriteError as exc:
            raise MlspecError(Diagnostic("MLS903", str(exc))) from exc
        if manifest is None:
            raise MlspecError(Diagnostic("MLS903", f"no manifest.json in {directory}"))
        found = State(node_hashes(validated)[env], previous_nodes(manifest, env))
    result = select(SelectionContext(shown, found), parsed)
    for criteria in result.unmatched:
        message = f"selector `{criteria}` matches no node"
        _write_diagnostics([Diagnostic("MLS611", message, severity=Severity.WARNING)])
    return result.nodes


def _mermaid(shown: Graph, env: str) -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(shown.nodes)}
    lines = ["flowchart LR", f"  %% mlspec graph, environment {env}"]
    lines += [f'  {ids[n.id]}["{n.id}"]' for n in shown.nodes]
    lines += [f"  {ids[e.source]} -->|{e.kind}| {ids[e.target]}" for e in shown.edges]
    return "\n".join(lines) + "\n"


def _dot(shown: Graph, env: str) -> str:
    lines = [f'digraph "{env}" {{', "  rankdir=LR;", "  node [shape=box];"]
    lines += [f'  "{n.id}";' for n in shown.nodes]
    lines += [f'  "{e.source}" -> "{e.target}" [label="{e.kind}"];' for e in shown.edges]
    return "\n".join([*lines, "}"]) + "\n"


def _json(shown: Graph, env: str) -> str:
    from mlspec.output.emit import dump_json

    return dump_json({"environment": env, **shown.as_data()})


_RENDERERS: dict[str, Callable[[Graph, str], str]] = {
    "mermaid": _mermaid,
    "dot": _dot,
    "json": _json,
}


# --- mlspec explain -------------------------------------------------------------------------


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("node")
@click.option("--env", default=None, metavar="NAME", help=ENV_HELP)
@click.option(
    "--compiler",
    "compilers",
    multiple=True,
    metavar="NAME",
    help="Files of this compiler only (repeatable). Default: every installed compiler.",
)
def explain(spec: Path, node: str, env: str | None, compilers: tuple[str, ...]) -> None:
    """Explain NODE (`deployment:fraud-scorer`, or a name that is unique): what it
    depends on, what depends on it, and the files it compiles to."""
    from mlspec import api
    from mlspec.graph import build_graph

    with _guarded():
        spec_file, _, chosen = _load(spec, env)
        shown = build_graph(chosen.platform, chosen.sources)
        nid = _resolve(shown, node)
        compiled = api.compile_spec(spec_file, [chosen.name], compilers)
        _write_diagnostics(compiled.diagnostics)
        files = [
            p for p, src in sorted(compiled.sources.items()) if shown.node_for_pointer(src) == nid
        ]
        sys.stdout.write(_explanation(shown, nid, chosen.name, files, compiled.ok))


def _resolve(shown: Graph, text: str) -> str:
    if text in shown:
        return text
    named = [n.id for n in shown.nodes if n.name == text]
    if len(named) == 1:
        return named[0]
    if named:
        several = "name one of: " + ", ".join(named)
        _fail(Diagnostic("MLS613", f"`{text}` names several nodes", hint=several))
    import difflib

    close = difflib.get_close_matches(text, [n.id for n in shown.nodes], n=3)
    hint = "did you mean " + " or ".join(f"`{c}`" for c in close) + "?" if close else None
    _fail(Diagnostic("MLS613", f"no node `{text}` in the graph", hint=hint))


def _explanation(shown: Graph, nid: str, env: str, files: list[str], compiled: bool) -> str:
    node = shown.node(nid)
    lines = [f"{nid}  (environment {env})"]
    owner = f"tenant {node.tenant}, " if node.tenant else ""
    lines.append(f"  {owner}defined at {node.location or node.pointer}")
    lines += _edges("depends on", [(e, e.upstream) for e in shown.upstream(nid)])
    lines += _edges("depended on by", [(e, e.downstream) for e in shown.downstream(nid)])
    for title, found in (
        ("upstream, transitively", shown.ancestors([nid])),
        ("downstream, transitively", shown.descendants([nid])),
    ):
        lines.append(f"{title} ({len(found)}): " + (", ".join(sorted(found)) or "-"))
    lines.append(
        f"compiles to ({len(files)} files):" if compiled else "compiles to: (compile failed)"
    )
    lines += [f"  {path}" for path in files]
    return "\n".join(lines) + "\n"


def _edges(title: str, edges: list[tuple[Edge, str]]) -> list[str]:
    if not edges:
        return [f"{title}: -"]
    rows = [[e.kind, other, str(e.location or e.pointer)] for e, other in edges]
    return [f"{title}:", *_table(sorted(rows), indent=2)]


# --- mlspec capacity ------------------------------------------------------------------------


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--env", default=None, metavar="NAME", help=ENV_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def capacity(spec: Path, env: str | None, fmt: str) -> None:
    """GPU capacity, guaranteed quotas, borrowing headroom, demand and monthly cost,
    per pool and per tenant (a month is 730 hours)."""
    from mlspec.analysis import figures
    from mlspec.output.emit import dump_json

    with _guarded():
        _, _, chosen = _load(spec, env)
        data = {"environment": chosen.name, **figures(chosen.platform)}
        sys.stdout.write(dump_json(data) if fmt == "json" else _capacity_text(data))


def _capacity_text(data: dict[str, Any]) -> str:
    pools = [["pool", "capacity", "GPUs", "guaranteed", "borrowable", "headroom", "demand"]]
    for name, p in data["pools"].items():
        demand = p["demand"]
        pools.append(
            [
                name,
                f"{p['capacity']} {p['unit']}",
                str(p["gpus"]),
                str(p["guaranteed"]),
                str(p["borrowLimit"]),
                str(p["headroom"]),
                f"{demand['total']} ({demand['serving']} serving + {demand['largestStep']} step)",
            ]
        )
    tenants = [["tenant", "pool", "guaranteed", "borrow", "GPUs", "monthly cost"]]
    for name, t in data["tenants"].items():
        for pool, share in t["pools"].items():
            unit = data["pools"][pool]["unit"]
            tenants.append(
                [
                    name,
                    pool,
                    f"{share['guaranteed']} {unit}",
                    str(share["borrow"]),
                    _gpus(share["guaranteedGpus"]),
                    f"{share['monthlyCost']:,.2f}",
                ]
            )
        tenants.append(
            [name, "total", "", "", _gpus(t["guaranteedGpus"]), f"{t['monthlyCost']:,.2f}"]
        )
    head = f"GPU pools (environment {data['environment']})"
    tail = f"Tenants (guaranteed GPUs at costPerGpuHour x {data['hoursPerMonth']} h a month)"
    return "\n".join([head, *_table(pools), "", tail, *_table(tenants)]) + "\n"


def _gpus(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def _table(rows: list[list[str]], indent: int = 0) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    pad = " " * indent
    return [
        pad + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
