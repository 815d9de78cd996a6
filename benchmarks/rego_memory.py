"""What rego-cpp alone needs to hold one environment's policy input, and to answer.

    .venv/bin/python benchmarks/rego_memory.py platform.yaml [--env prod]

Validates the spec (untimed), builds the policy input document of one environment as
`mlspec validate` does, then hands it to a rego-cpp interpreter with the default bundle
built and queries every rule. It prints one JSON line: the input's node count, this
process's resident size before the hand-over, after it, and its peak after the
queries. The difference is rego-cpp's: the least memory any process that evaluates
the default policies on this input with the embedded engine can use, whatever mlspec
does around it (run.py uses it as the floor of the N=5000 memory target).
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path

from bench_policy import count_nodes

from mlspec.policy import PolicyOptions
from mlspec.policy.inputs import build_input
from mlspec.policy.modules import input_keys, result_rules
from mlspec.policy.native import Interpreter
from mlspec.policy.runner import load_policy_set
from mlspec.spec.frontend import SpecFile, validate_spec


def resident_mib(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--env", default="prod")
    args = parser.parse_args()
    validated = validate_spec(SpecFile.read(args.spec), [args.env])
    if not validated.ok:
        raise SystemExit(f"{args.spec} is not valid")
    policies = load_policy_set(PolicyOptions())
    rules = result_rules(policies.modules)
    document = build_input(validated.environments[args.env], input_keys(policies.modules))
    del validated
    gc.collect()
    interpreter = Interpreter()
    for module in policies.modules:
        interpreter.add_module(module.display, module.text)
    interpreter.build([rule.path for rule in rules])
    before = resident_mib()
    interpreter.set_input(document)
    handed_over = resident_mib()
    for rule in rules:
        interpreter.query_rule(rule.path)
    figures = {
        "nodes": count_nodes(document),
        "before_mib": round(before),
        "after_input_mib": round(handed_over),
        "peak_mib": round(resident_mib("VmHWM")),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
