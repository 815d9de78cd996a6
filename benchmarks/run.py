"""Benchmarks: whole-process time and peak memory of `mlspec validate` and `compile`.

    .venv/bin/python benchmarks/run.py                   # N = 10, 100, 1000, 5000
    .venv/bin/python benchmarks/run.py --sizes 10 100 --runs 3

It measures, as separate processes: validate of the reference spec; then for every N
(a platform from generate.py) validate; compile of everything (every environment,
every compiler); compile of the tenancy + serving objects of one environment beside
`helm template` of a chart that renders the same objects (helm_chart.py), and the same
compile with the pipelines added; the stage timings of a compile; and, at N=1000, an
incremental `compile --select state:modified+` after one deployment changes. Medians of
--runs runs (N=5000: one run). Results go to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generate import platform as generate_platform
from helm_chart import write_chart

from mlspec.output.emit import dump_yaml

ROOT = Path(__file__).resolve().parent.parent
MLSPEC = [sys.executable, "-m", "mlspec"]
HELM = ROOT / ".tools" / "bin" / "helm"
WORK = Path(os.environ.get("MLSPEC_BENCH_DIR", "/tmp/mlspec-bench"))
# A RAM-backed directory, to tell mlspec's own time from the disk's (skipped if absent).
TMPFS = Path(os.environ.get("MLSPEC_BENCH_TMPFS", "/dev/shm"))
EQUAL_OBJECTS = ["--env", "prod", "--compiler", "tenancy", "--compiler", "kueue"]
EQUAL_OBJECTS += ["--compiler", "serving"]
# What `validate` does before it reads a byte, as its command line does it (cli.py: no
# pydantic plugins).
IMPORT_MODELS = (
    "import os; os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'; import mlspec.spec.model"
)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float  # the largest RSS of one process (the kernel's ru_maxrss)
    tree_mib: float = 0.0  # the largest sum of PSS over the process and its children
    cpu: float = 0.0  # user + system CPU seconds of the process and the children it reaped


def bench_environment() -> dict[str, str]:
    """This machine sets PYTHONDONTWRITEBYTECODE; an installed mlspec has its bytecode
    cached, so the benchmark runs with the cache on (and warms it first: `warm_up`)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_up() -> None:
    example = str(ROOT / "specs" / "examples" / "platform.yaml")
    for command in (["validate", example], ["compile", example, "--out", str(WORK / "warm")]):
        env = bench_environment()
        subprocess.run([*MLSPEC, *command], env=env, capture_output=True, check=True)


def measure(
    command: list[str] | Callable[[int], list[str]],
    runs: int,
    before: Callable[[int], None] | None = None,
) -> Run:
    """Median wall time, the largest peak RSS and the largest process-tree PSS over
    ``runs`` fresh processes (the policies run in child processes beside the compile:
    PSS counts the pages they share with their parent once). ``command`` may depend on
    the run: a function of its number."""
    times, peaks, trees, cpus = [], [], [], []
    for run in range(runs):
        if before is not None:
            before(run)
        argv = command(run) if callable(command) else command
        start = time.perf_counter()
        child = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=bench_environment()
        )
        sampler = TreeSampler(child.pid)
        _, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - start)
        trees.append(sampler.stop())
        peaks.append(usage.ru_maxrss / 1024)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            said = child.stderr.read().decode()[-2000:] if child.stderr else ""
            raise SystemExit(f"failed: {' '.join(argv)}: {said}")
    return Run(statistics.median(times), max(peaks), max(trees), statistics.median(cpus))


class TreeSampler:
    """Samples the summed PSS of a process and its descendants every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_kib / 1024

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in _tree(self.pid)))


def _tree(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                stack += [int(c) for c in children.read_text().split()]
            except OSError:
                continue
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def stage_timings(spec: Path, out: Path) -> str:
    done = subprocess.run(
        [*MLSPEC, "compile", str(spec), "--out", str(out), "--timings"],
        capture_output=True,
        text=True,
        check=True,
        env=bench_environment(),
    )
    return done.stderr


def run_files(tree: Path) -> int:
    """Every file of a compiled tree (manifest and kustomizations included)."""
    return sum(1 for p in tree.rglob("*") if p.is_file())


def count_files(tree: Path) -> int:
    return sum(1 for p in tree.rglob("*.yaml") if p.name != "kustomization.yaml")


def bench_reference(runs: int) -> tuple[Run, Run]:
    """`mlspec validate` of the reference spec (the language contract), policies on; and
    the least any such run takes here: starting the interpreter and importing the
    pydantic models of the input language (which `validate` needs before reading a byte)."""
    example = ROOT / "specs" / "examples" / "platform.yaml"
    validate = measure([*MLSPEC, "validate", str(example)], runs)
    models = measure([sys.executable, "-c", IMPORT_MODELS], runs)
    return validate, models


def bench_size(n: int, runs: int) -> dict[str, object]:
    base = WORK / str(n)
    base.mkdir(parents=True, exist_ok=True)
    spec = base / "platform.yaml"
    data = generate_platform(n)
    spec.write_text(dump_yaml(data))
    out, equal_out = base / "out", base / "equal"
    row: dict[str, object] = {"n": n, "spec_mib": spec.stat().st_size / 2**20}
    row["validate"] = measure([*MLSPEC, "validate", str(spec)], runs)
    row["compile_fresh"] = compile_fresh(spec, base / "fresh", runs)
    compile_all = [*MLSPEC, "compile", str(spec), "--out", str(out)]
    row["compile"] = measure(compile_all, runs)  # into the tree it wrote: CI's usual case
    row["objects"] = count_files(out)
    if n >= 1000:  # the time and memory targets without the policy engine
        row["compile_no_policy"] = measure([*compile_all, "--no-policy"], runs)
    if n >= 5000:  # the memory target's floor: what rego-cpp alone holds
        row["rego_memory"] = rego_memory(spec)
    equal = [*MLSPEC, "compile", str(spec), "--out", str(equal_out), *EQUAL_OBJECTS]
    row["equal"] = measure(equal, runs)
    row["equal_objects"] = count_files(equal_out)
    row["pipelines"] = measure([*equal, "--compiler", "kubeflow"], runs)
    row["no_policy"] = measure([*equal, "--no-policy"], runs)
    if TMPFS.is_dir():
        in_memory = TMPFS / f"mlspec-bench-{n}"
        shutil.rmtree(in_memory, ignore_errors=True)
        no_disk = [*MLSPEC, "compile", str(spec), "--out", str(in_memory), *EQUAL_OBJECTS]
        row["no_disk"] = measure([*no_disk, "--no-policy"], runs)
        shutil.rmtree(in_memory, ignore_errors=True)
    row["write_floor"] = write_floor(equal_out, base / "floor")
    chart = write_chart(data, base / "chart")
    row["helm"] = measure([str(HELM), "template", "bench", str(chart)], runs)
    row["stages"] = stage_timings(spec, base / "timed")
    return row


def compile_fresh(spec: Path, scratch: Path, runs: int) -> Run:
    """Compiles of ``spec`` into empty directories: a new one each run, all removed
    after. Not one directory emptied before each run: ext4 avoids reusing the inodes of
    files deleted in the last minute, and creating 62,000 files right after deleting
    as many spent most of a run in the kernel (perf: ext4_create -> recently_deleted;
    at N=1000, 75 s against 35 s into the unchanged tree). Files deleted earlier still
    cost something: the column is the less steady one."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    run = measure(lambda n: [*MLSPEC, "compile", str(spec), "--out", str(scratch / str(n))], runs)
    shutil.rmtree(scratch, ignore_errors=True)
    return run


def rego_memory(spec: Path) -> dict[str, float]:
    """rego_memory.py on ``spec``: rego-cpp's resident size for one environment's input."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "rego_memory.py"), str(spec)],
        capture_output=True,
        text=True,
        check=True,
        env=bench_environment(),
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def write_floor(tree: Path, scratch: Path) -> float:
    """Seconds to create ``tree``'s files (same paths, same bytes, read beforehand) in a
    fresh directory, with nothing else to do: what writing such a tree costs on this
    disk, whatever program writes it."""
    files = {p.relative_to(tree): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    shutil.rmtree(scratch, ignore_errors=True)
    start = time.perf_counter()
    made: set[Path] = set()
    for rel, content in files.items():
        if rel.parent not in made:
            (scratch / rel.parent).mkdir(parents=True, exist_ok=True)
            made.add(rel.parent)
        (scratch / rel).write_bytes(content)
    elapsed = time.perf_counter() - start
    shutil.rmtree(scratch)
    return elapsed


def swap_floor(tree: Path, scratch: Path) -> tuple[float, float]:
    """Seconds to hard-link every file of ``tree`` into a fresh directory, and to remove
    such a tree: the least an all-or-nothing writer (a new sibling tree swapped in with a
    rename, RELIABILITY rule 6) does when one file of ``tree`` changes."""
    files = [p.relative_to(tree) for p in tree.rglob("*") if p.is_file()]
    shutil.rmtree(scratch, ignore_errors=True)
    start = time.perf_counter()
    made: set[Path] = set()
    for rel in files:
        if rel.parent not in made:
            (scratch / rel.parent).mkdir(parents=True, exist_ok=True)
            made.add(rel.parent)
        os.link(tree / rel, scratch / rel)
    linked = time.perf_counter() - start
    start = time.perf_counter()
    shutil.rmtree(scratch)
    return linked, time.perf_counter() - start


def bench_incremental(runs: int) -> tuple[Run, tuple[float, float]]:
    """N=1000: one deployment changes, `--select state:modified+` recompiles it. Before
    each run the deployment changes again (replicas.max), so every run has one change."""
    base = WORK / "incremental"
    base.mkdir(parents=True, exist_ok=True)
    spec, out = base / "platform.yaml", base / "out"
    data = generate_platform(1000)
    spec.write_text(dump_yaml(data))
    subprocess.run(
        [*MLSPEC, "compile", str(spec), "--out", str(out)],
        check=True,
        capture_output=True,
        env=bench_environment(),
    )

    def change(run: int) -> None:
        data["deployments"]["t00500-scorer"]["replicas"]["max"] = 20 + run
        spec.write_text(dump_yaml(data))

    select = ["--select", "state:modified+"]
    run = measure([*MLSPEC, "compile", str(spec), "--out", str(out), *select], runs, change)
    return run, swap_floor(out, base / "floor")


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


def report(
    reference: tuple[Run, Run],
    rows: list[dict[str, object]],
    incremental: tuple[Run, tuple[float, float]] | None,
    runs: int,
) -> str:
    validate, models = reference
    lines = [
        "# mlspec benchmark results",
        "",
        f"Machine: {machine()}. Medians of {runs} runs (N=5000: one run), whole process",
        "(interpreter start included, bytecode cache on). Peak RSS is the largest resident",
        "size of one process; tree PSS the largest summed proportional size of the process",
        "and its children (the policies run in child processes beside the compile).",
        "Regenerate: `.venv/bin/python benchmarks/run.py` (about 50 minutes).",
        "",
        *targets(validate, models, rows, incremental),
        "",
        f"`mlspec validate` of the reference spec (policies on): {validate.seconds:.2f} s, "
        f"peak RSS {validate.peak_mib:.0f} MiB; starting Python and importing the pydantic "
        f"models alone: {models.seconds:.2f} s.",
        "",
        "Compile of everything (every environment, every compiler), into an empty directory",
        "and again into the tree it wrote (nothing changed: CI's usual case, a checkout of",
        "the GitOps repository).",
        "",
        "| N | spec MiB | validate s | compile, empty s | compile, unchanged s | ms/tenant "
        "| peak RSS MiB | tree PSS MiB | files | files/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        v, f, c = _run(row, "validate"), _run(row, "compile_fresh"), _run(row, "compile")
        objects = int(str(row["objects"]))
        lines.append(
            f"| {row['n']} | {float(str(row['spec_mib'])):.1f} | {v.seconds:.2f} "
            f"| {f.seconds:.2f} | {c.seconds:.2f} | {_per_tenant(row, f):.1f} "
            f"| {max(f.peak_mib, c.peak_mib):.0f} | {max(f.tree_mib, c.tree_mib):.0f} "
            f"| {objects} | {objects / f.seconds:.0f} |"
        )
    for row in rows:
        if "compile_no_policy" in row:
            free = _run(row, "compile_no_policy")
            lines += [
                "",
                f"N={row['n']} compile with `--no-policy` (into the unchanged tree): "
                f"{free.seconds:.2f} s, peak RSS {free.peak_mib:.0f} MiB.",
            ]
    lines += [
        "",
        "The same tenancy + serving objects (`--env prod`, compilers tenancy, kueue, serving;",
        "validation and the default policies on) beside `helm template` of a chart that",
        "renders them (helm_chart.py) to a pipe, and with the pipelines added on mlspec's",
        "side. CPU counts the policy process too. To tell mlspec's time from the disk's and",
        "the policy engine's: the same compile without policies, the same again writing",
        f"into {TMPFS} (RAM), and the time to create the same files with nothing else to do.",
        "",
        "| N | files | mlspec s | CPU s | helm s | mlspec/helm | no policies s "
        "| no policies, RAM s | files alone s | with pipelines s | /helm |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        e, h, p = _run(row, "equal"), _run(row, "helm"), _run(row, "pipelines")
        free = _run(row, "no_policy")
        no_disk = f"{_run(row, 'no_disk').seconds:.2f}" if "no_disk" in row else "-"
        lines.append(
            f"| {row['n']} | {row['equal_objects']} | {e.seconds:.2f} | {e.cpu:.2f} "
            f"| {h.seconds:.2f} | {e.seconds / h.seconds:.2f} | {free.seconds:.2f} | {no_disk} "
            f"| {float(str(row['write_floor'])):.2f} | {p.seconds:.2f} "
            f"| {p.seconds / h.seconds:.2f} |"
        )
    if incremental is not None:
        run, (linked, removed) = incremental
        lines += [
            "",
            f"Incremental (N=1000, one deployment changed, `--select state:modified+`): "
            f"{run.seconds:.2f} s, peak RSS {run.peak_mib:.0f} MiB. The all-or-nothing "
            f"writer (rule 6) builds a new tree beside the old one and swaps it in: "
            f"hard-linking the {run_files(WORK / 'incremental' / 'out')} files of the "
            f"previous tree alone takes {linked:.2f} s here, and removing the old one "
            f"{removed:.2f} s.",
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


def targets(
    validate: Run,
    models: Run,
    rows: list[dict[str, object]],
    incremental: tuple[Run, tuple[float, float]] | None,
) -> list[str]:
    """The targets of the benchmark issue, what was measured, and the floor under each:
    the least that part of the work takes on this machine, measured by the same run."""
    lines = [
        "## Targets",
        "",
        "| target | measured | floor, measured here | the floor is |",
        "|---|---:|---:|---|",
        f"| `validate`, reference spec: ≤ 0.3 s | {validate.seconds:.2f} s "
        f"| {models.seconds:.2f} s | starting Python and importing the pydantic models |",
    ]
    by_n = {int(str(row["n"])): row for row in rows}
    if 1000 in by_n:
        row = by_n[1000]
        helm = _run(row, "helm").seconds
        ratio = _run(row, "equal").seconds / helm
        floor = float(str(row["write_floor"])) / helm
        lines.append(
            f"| N=1000 tenancy + serving: ≤ 1.0x `helm template` | {ratio:.2f}x "
            f"| {floor:.2f}x | creating the {row['equal_objects']} files with nothing else "
            f"to do (helm writes one stream to a pipe, {helm:.2f} s) |"
        )
    if 5000 in by_n:
        row = by_n[5000]
        peak = max(_run(row, "compile_fresh").peak_mib, _run(row, "compile").peak_mib)
        free = _run(row, "compile_no_policy").peak_mib
        rego = row["rego_memory"]
        assert isinstance(rego, dict)
        lines.append(
            f"| N=5000 compile: peak < 2 GiB | {peak:.0f} MiB; `--no-policy` {free:.0f} MiB "
            f"| {rego['peak_mib']:.0f} MiB | one process evaluating the default policies on "
            f"one environment's input with rego-cpp ({rego['nodes'] / 1e6:.2f} M JSON nodes; "
            f"rego-cpp's own share {rego['peak_mib'] - rego['before_mib']:.0f} MiB) |"
        )
    if 1000 in by_n and 5000 in by_n:
        small, large = by_n[1000], by_n[5000]
        on = [_per_tenant(r, _run(r, "compile")) for r in (small, large)]
        off = [_per_tenant(r, _run(r, "compile_no_policy")) for r in (small, large)]
        lines.append(
            f"| N=5000 time: ≤ linear from N=1000 | {on[1]:.1f} vs {on[0]:.1f} ms/tenant "
            f"({on[1] / on[0]:.2f}x) | `--no-policy`: {off[1]:.1f} vs {off[0]:.1f} ms/tenant "
            f"({off[1] / off[0]:.2f}x) | above 3 MiB of spec the environments' policies run "
            "one after another in one process (rego-cpp's memory, above) |"
        )
    if incremental is not None:
        run, (linked, removed) = incremental
        lines.append(
            f"| N=1000 incremental, one deployment: ≤ 0.5 s | {run.seconds:.2f} s "
            f"| {linked + removed:.2f} s | rule 6's new tree beside the old: hard-linking "
            f"the previous tree's {run_files(WORK / 'incremental' / 'out')} files, and "
            "removing the old tree |"
        )
    return lines


def _per_tenant(row: dict[str, object], run: Run) -> float:
    return 1000 * run.seconds / int(str(row["n"]))


def _run(row: dict[str, object], key: str) -> Run:
    run = row[key]
    assert isinstance(run, Run)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    warm_up()
    reference = bench_reference(args.runs)
    rows = []
    for n in args.sizes:
        rows.append(bench_size(n, args.runs if n < 5000 else 1))
        print(f"N={n} done", file=sys.stderr)
    incremental = bench_incremental(args.runs) if 1000 in args.sizes else None
    args.output.write_text(report(reference, rows, incremental, args.runs))
    print(args.output.read_text())


if __name__ == "__main__":
    main()
