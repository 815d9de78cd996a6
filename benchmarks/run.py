"""Benchmarks: whole-process time and peak memory of `mlspec validate` and `compile`.

    .venv/bin/python benchmarks/run.py                   # N = 10, 100, 1000, 5000
    .venv/bin/python benchmarks/run.py --sizes 10 100 --runs 3

For every N (a platform from generate.py) it measures, as separate processes:
validate; compile of everything (every environment, every compiler); compile of the
tenancy + serving objects of one environment beside `helm template` of a chart that
renders the same objects (helm_chart.py); the stage timings of a compile; and, at
N=1000, an incremental `compile --select state:modified+` after one deployment
changes. Medians of --runs runs. Results go to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from generate import platform as generate_platform
from helm_chart import write_chart

from mlspec.output.emit import dump_yaml

ROOT = Path(__file__).resolve().parent.parent
MLSPEC = [sys.executable, "-m", "mlspec"]
HELM = ROOT / ".tools" / "bin" / "helm"
WORK = Path(os.environ.get("MLSPEC_BENCH_DIR", "/tmp/mlspec-bench"))
EQUAL_OBJECTS = ["--env", "prod", "--compiler", "tenancy", "--compiler", "kueue"]
EQUAL_OBJECTS += ["--compiler", "serving"]


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float


def measure(command: list[str], runs: int) -> Run:
    """Median wall time and the largest peak RSS over ``runs`` fresh processes."""
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - start)
        peaks.append(usage.ru_maxrss / 1024)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"failed: {' '.join(command)}: {child.stderr.read().decode()[-2000:]}")
    return Run(statistics.median(times), max(peaks))


def stage_timings(spec: Path, out: Path) -> str:
    done = subprocess.run(
        [*MLSPEC, "compile", str(spec), "--out", str(out), "--timings"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr


def count_files(tree: Path) -> int:
    return sum(1 for p in tree.rglob("*.yaml") if p.name != "kustomization.yaml")


def bench_size(n: int, runs: int) -> dict[str, object]:
    base = WORK / str(n)
    base.mkdir(parents=True, exist_ok=True)
    spec = base / "platform.yaml"
    data = generate_platform(n)
    spec.write_text(dump_yaml(data))
    out, equal_out = base / "out", base / "equal"
    row: dict[str, object] = {"n": n, "spec_mib": spec.stat().st_size / 2**20}
    row["validate"] = measure([*MLSPEC, "validate", str(spec)], runs)
    row["compile"] = measure([*MLSPEC, "compile", str(spec), "--out", str(out)], runs)
    row["objects"] = count_files(out)
    row["equal"] = measure(
        [*MLSPEC, "compile", str(spec), "--out", str(equal_out), *EQUAL_OBJECTS], runs
    )
    row["equal_objects"] = count_files(equal_out)
    chart = write_chart(data, base / "chart")
    row["helm"] = measure([str(HELM), "template", "bench", str(chart)], runs)
    row["stages"] = stage_timings(spec, base / "timed")
    return row


def bench_incremental(runs: int) -> Run:
    """N=1000: one deployment changes, `--select state:modified+` recompiles it."""
    base = WORK / "incremental"
    base.mkdir(parents=True, exist_ok=True)
    spec, out = base / "platform.yaml", base / "out"
    data = generate_platform(1000)
    spec.write_text(dump_yaml(data))
    subprocess.run(
        [*MLSPEC, "compile", str(spec), "--out", str(out)], check=True, capture_output=True
    )
    data["deployments"]["t00500-scorer"]["replicas"]["max"] = 6
    spec.write_text(dump_yaml(data))
    select = ["--select", "state:modified+"]
    return measure([*MLSPEC, "compile", str(spec), "--out", str(out), *select], runs)


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average at start {load:.2f}"
    )


def report(rows: list[dict[str, object]], incremental: Run | None, runs: int) -> str:
    lines = [
        "# mlspec benchmark results",
        "",
        f"Machine: {machine()}. Medians of {runs} runs, whole process (interpreter start",
        "included); peak memory is the largest RSS seen. Regenerate: `python benchmarks/run.py`.",
        "",
        "| N | spec MiB | validate s | compile s | peak MiB | files | files/s |"
        " equal objects: mlspec s | helm s | mlspec/helm |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        v, c, e, h = (row[k] for k in ("validate", "compile", "equal", "helm"))
        assert (
            isinstance(v, Run) and isinstance(c, Run) and isinstance(e, Run) and isinstance(h, Run)
        )
        objects = int(str(row["objects"]))
        lines.append(
            f"| {row['n']} | {float(str(row['spec_mib'])):.1f} | {v.seconds:.2f} | {c.seconds:.2f} "
            f"| {c.peak_mib:.0f} | {objects} | {objects / c.seconds:.0f} "
            f"| {e.seconds:.2f} ({row['equal_objects']} files) | {h.seconds:.2f} "
            f"| {e.seconds / h.seconds:.2f} |"
        )
    if incremental is not None:
        lines += [
            "",
            f"Incremental (N=1000, one deployment changed, `--select state:modified+`): "
            f"{incremental.seconds:.2f} s, peak {incremental.peak_mib:.0f} MiB.",
        ]
    for row in rows:
        lines += [
            "",
            f"Stages of `compile` at N={row['n']}:",
            "",
            "```",
            str(row["stages"]).strip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    rows = []
    for n in args.sizes:
        rows.append(bench_size(n, args.runs if n < 5000 else max(1, min(args.runs, 3))))
        print(f"N={n} done", file=sys.stderr)
    incremental = bench_incremental(args.runs) if 1000 in args.sizes else None
    args.output.write_text(report(rows, incremental, args.runs))
    print(args.output.read_text())


if __name__ == "__main__":
    main()
