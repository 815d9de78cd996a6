"""Benchmark: the default policy bundle on a generated 1,000-tenant platform (budget: 1 s).

    .venv/bin/python benchmarks/bench_policy.py [--tenants 1000] [--repeat 5] [--budget 1.0]

The platform is the reference spec (specs/examples/platform.yaml) grown to N tenants:
tenant i is a copy of ``fraud`` (even i: a pipeline from the template with a GPU step,
a model with two versions and two aliases, a deployment with a canary, a monitor with
an SLO and drift detection) or of ``search`` (odd i: a pipeline of inline steps on MIG
slices, a GPU deployment, an SLO monitor), with pools sized to fit. It is loaded,
expanded and type-checked once, untimed (the graph and capacity checks of `validate`
are left out: they are not policy evaluation).

Then, ``--repeat`` times, the whole policy run of `mlspec validate` for the ``prod``
environment is timed: building the input document, the evaluation (fork, load and
compile the bundle, hand over the input, query every rule) and turning results into
located diagnostics. CPU time counts this process and the evaluation's child. Exits 1
when the least CPU time is over ``--budget``: other processes' load only adds time.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from mlspec.output.emit import dump_yaml
from mlspec.policy import PolicyOptions, check
from mlspec.policy.engine import EmbeddedEngine
from mlspec.policy.inputs import build_input
from mlspec.policy.modules import input_keys, result_rules
from mlspec.policy.results import diagnostics, findings
from mlspec.policy.runner import load_policy_set
from mlspec.spec.frontend import EnvironmentSpec, SpecFile, Validated
from mlspec.spec.loader import load_bytes
from mlspec.spec.templates import expand_templates
from mlspec.spec.validate import validate_platform

REFERENCE = Path(__file__).resolve().parent.parent / "specs" / "examples" / "platform.yaml"
COLLECTIONS = ("pipelines", "models", "deployments", "monitors")


def generate(n: int) -> dict[str, Any]:
    """The reference spec with ``n`` tenants, alternately shaped like fraud and search."""
    reference = _string_keys(YAML(typ="safe", pure=True).load(REFERENCE.read_text("utf-8")))
    spec = {k: v for k, v in reference.items() if k not in ("tenants", *COLLECTIONS)}
    spec["environments"] = {"prod": reference["environments"]["prod"]}
    spec.update({"tenants": {}, **{c: {} for c in COLLECTIONS}})
    for i in range(n):
        _add_tenant(spec, reference, "fraud" if i % 2 == 0 else "search", f"team-{i:04d}")
    pools = spec["gpuPools"]
    pools["a100-80gb"]["nodes"] = math.ceil(n / 2 * 8 / 8) + 1
    pools["l4-shared"]["nodes"] = math.ceil(n / 2 * 4 / (4 * 4)) + 1
    pools["h100-mig"]["nodes"] = math.ceil(n / 2 * 14 / (8 * 7)) + 1
    return spec


def _string_keys(value: Any) -> Any:
    """Version numbers are mapping keys: write them as the strings they are read as."""
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def _add_tenant(spec: dict[str, Any], reference: dict[str, Any], like: str, name: str) -> None:
    spec["tenants"][name] = copy.deepcopy(reference["tenants"][like])
    renamed = {}
    for collection in COLLECTIONS:
        for old, obj in reference[collection].items():
            if obj["tenant"] == like:
                renamed[old] = f"{name}-{old.split('-', 1)[1]}"
    for collection in COLLECTIONS:
        for old, obj in reference[collection].items():
            if obj["tenant"] == like:
                spec[collection][renamed[old]] = _renamed(copy.deepcopy(obj), name, renamed)


def _renamed(obj: dict[str, Any], tenant: str, names: dict[str, str]) -> dict[str, Any]:
    obj["tenant"] = tenant
    for key in ("model", "deployment"):
        if key in obj:
            obj[key] = names[obj[key]]
    if "produces" in obj:
        obj["produces"] = {names[m]: out for m, out in obj["produces"].items()}
    if "onDrift" in obj:
        obj["onDrift"] = {"retrain": names[obj["onDrift"]["retrain"]]}
    return obj


def prepare(n: int) -> Validated:
    text = dump_yaml(generate(n))
    spec = SpecFile(f"platform-{n}.yaml", f"platform-{n}.yaml", text.encode())
    loaded = load_bytes(spec.raw, spec.display)
    assert loaded.data is not None, loaded.diagnostics[:3]
    data, sources, problems = expand_templates(loaded.data, loaded.sources)
    platform, invalid = validate_platform(data, sources)
    assert platform is not None and not problems and not invalid, (problems + invalid)[:3]
    assert len(platform.tenants) == n
    return Validated(spec, {"prod": EnvironmentSpec("prod", platform, sources)})


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def breakdown(validated: Validated) -> None:
    """Where the time goes: the input document, the engine (its child), the results."""
    policies = load_policy_set(PolicyOptions())
    rules = result_rules(policies.modules)
    env = validated.environments["prod"]
    cpu = _cpu()
    document = build_input(env, input_keys(policies.modules))
    built = _cpu() - cpu
    outcomes = EmbeddedEngine().evaluate(policies, {"prod": document}, rules)
    evaluated = _cpu() - cpu - built
    diagnostics(findings(outcomes["prod"])[0], env.sources)
    mapped = _cpu() - cpu - built - evaluated
    size = len(json.dumps(document)) // 1024
    print(f"input document: {count_nodes(document)} nodes ({size} KiB of JSON), {len(rules)} rules")
    print(f"  build input {built:.3f} s, engine {evaluated:.3f} s, results {mapped:.3f} s (CPU)")


def count_nodes(value: Any) -> int:
    """JSON nodes as rego-cpp gets them: every value, and every object key."""
    if isinstance(value, dict):
        return 1 + sum(1 + count_nodes(item) for item in value.values())
    if isinstance(value, list):
        return 1 + sum(count_nodes(item) for item in value)
    return 1


def measure(validated: Validated) -> tuple[float, float, int]:
    cpu, wall = _cpu(), time.perf_counter()
    report = check(validated, PolicyOptions())
    return _cpu() - cpu, time.perf_counter() - wall, len(report.diagnostics)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0)
    args = parser.parse_args()
    validated = prepare(args.tenants)
    check(validated, PolicyOptions())  # warm up: imports regopy, pays first-use costs
    breakdown(validated)
    runs = [measure(validated) for _ in range(args.repeat)]
    cpu = [r[0] for r in runs]
    wall = [r[1] for r in runs]
    print(f"policy run, {args.tenants} tenants, {runs[0][2]} diagnostics, {args.repeat} runs:")
    print(f"  cpu  min {min(cpu):.3f} s  median {statistics.median(cpu):.3f} s")
    print(f"  wall min {min(wall):.3f} s  median {statistics.median(wall):.3f} s")
    if min(cpu) > args.budget:
        print(f"over budget: {min(cpu):.3f} s > {args.budget} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
