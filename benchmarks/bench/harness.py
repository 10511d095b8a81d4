"""Measuring the pipeline in a copy of the project: the copy, the per-stage wrapper, timed dvc
commands, kernels in fresh interpreters, the calibration and one stage's import profile.

The run is a sequence of phases (``bench.records``: the cold run, the dvc timings, svm_fit, ...);
``Clock`` times one round of the reference kernels at each boundary between two phases, so that
each phase's timings can be divided by kernels timed minutes from them, under the same load.

How a stage is measured: dvc runs each stage's ``python src/<stage>.py ...`` through the shell,
so ``python`` is resolved on PATH. The harness puts a directory first on PATH whose ``python``
is a small stdlib-only wrapper (``WRAPPER``): it forks, execs the real interpreter with the same
arguments, and ``os.wait4`` returns that process's own resource use, logged to
$BENCH_STAGE_LOG. The stage itself logs the seconds of its work to $BENCH_WORK_LOG
(``mnist_pipeline.plumbing.runner.run_stage``); wall less work is the stage's overhead.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # repo_copy: test support
from repo_copy import copy_repo, tool_env

from bench.kernels import SVM_SIDES
from bench.records import (
    Calibration,
    CalibrationRound,
    ColdRun,
    DvcRun,
    Experiment,
    ImportCost,
    ImportProfile,
    KernelRun,
    Machine,
    NearestPair,
    Phase,
    Repeat,
    Results,
    Scores,
    StageRun,
    SvmFitRound,
)
from mnist_pipeline.plumbing.params import load_params

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
DVC = str(PYTHON.parent / "dvc")
NOOP_PAIRS = 5
CALIBRATION_ROUNDS = 3
"""Rounds of the reference kernels at the run's start and at its end."""
BOUNDARY_ROUNDS = 1
"""Rounds of the reference kernels at each boundary between two phases."""
SVM_MODEL = "svm"
"""The params.yaml model the svm_fit phase fits both ways."""
IMPORT_PROFILE_TOP = 8

# Targets on the reference machine (2 cores, 24 GiB): see the issue "speed, memory and
# accuracy beyond the notebooks".
LIMITS = {
    "cold_repro_seconds": 60.0,
    "max_stage_peak_rss_mb": 2048.0,
    "noop_repro_over_status": 1.5,
    "exp_pca40_share_of_cold": 0.35,
    "nearest_stage_over_bare_matmul": 1.3,
    "stage_overhead_share_of_cold": 0.15,
    "svm_fit_over_today": 0.5,
    "svm_min_test_accuracy": 0.99,
}
EXPERIMENTS = {
    "deskew": ("normalize.deskew=true",),
    "deskew_l2": ("normalize.deskew=true", "normalize.method=l2"),
    "svm_plain": ("models.svm.features=pca",),
}

WRAPPER = """#!{python} -IS
# Written by benchmarks/run.py: run the real interpreter, log its wall time and resource use.
import json, os, sys, time
REAL = {real!r}
started, t0 = time.time(), time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(REAL, [REAL] + sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(status)
record = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "started": started, "wall": wall,
          "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss, "exit": code}}
log = os.environ.get("BENCH_STAGE_LOG")
if log:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (json.dumps(record) + "\\n").encode())
    os.close(fd)
sys.exit(code if code >= 0 else 128 - code)
"""


@dataclass(frozen=True)
class Options:
    """What ``benchmarks/run.py`` was asked to measure."""

    repeat: int
    core_target: str
    separate: list[str]
    pairs: int
    block_rows: int
    mlp_samples: int
    gd_iterations: int
    skip_notebooks: bool
    skip_sklearn_knn: bool
    skip_deskew: bool
    skip_svm_fit: bool
    svm_rounds: int
    keep: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        return cls(**{name: getattr(args, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Sandbox:
    """One repeat's copy of the project, the wrapper's folder and the two logs."""

    copy: Path
    wrapper: Path
    stage_log: Path
    work_log: Path

    def env(self) -> dict[str, str]:
        """dvc's environment: the wrapper first on PATH, the copy's src/ on PYTHONPATH (its
        stages import the copy's package, not the installed one), both logs set."""
        return tool_env(
            [self.wrapper],
            identity="benchmark",
            extra={
                "PYTHONPATH": str(self.copy / "src"),
                "BENCH_STAGE_LOG": str(self.stage_log),
                "BENCH_WORK_LOG": str(self.work_log),
            },
        )


# ---------------------------------------------------------------------------------------------
# The copy, the wrapper and the logs


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run a command to completion; return (wall seconds, stdout). Fails loudly."""
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {result.returncode} in {cwd}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return wall, result.stdout


def benchmark_copy(dest: Path) -> Path:
    """The working tree's project files in a new git repository with one commit, without
    metrics/ and plots/: a cold start in which every stage runs, the picture stages too (in a
    fresh clone they find the committed PNGs up to date and skip)."""
    return copy_repo(
        REPO,
        dest,
        leave_out=("metrics", "plots"),
        message="benchmark copy of the working tree",
        identity="benchmark",
    )


def write_wrapper(folder: Path) -> Path:
    """Write the ``python`` wrapper into ``folder``; return ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "python"
    wrapper.write_text(WRAPPER.format(python=sys.executable, real=sys.executable))
    wrapper.chmod(0o755)
    return folder


def stage_name(argv: list[str]) -> str:
    """dvc's name for the stage that ran this command: ``src/evaluate.py --model knn ...`` ->
    ``evaluate@knn``; ``src/pca.py --section pca_deskewed ...`` -> ``pca_deskewed`` (the
    params section a reused script follows is named after its stage)."""
    script = Path(argv[0]).stem if argv else "?"
    if "--model" in argv[:-1]:
        return f"{script}@{argv[argv.index('--model') + 1]}"
    if "--section" in argv[:-1]:
        return argv[argv.index("--section") + 1]
    return script


def read_stage_logs(stage_log: Path, work_log: Path) -> dict[str, StageRun]:
    """Every stage the wrapper logged, with the work seconds the stage logged itself."""
    work = {}
    if work_log.is_file():
        for line in work_log.read_text().splitlines():
            record = json.loads(line)
            work[stage_name(record["argv"])] = round(record["work"], 3)
    stages: dict[str, StageRun] = {}
    if stage_log.is_file():
        for line in stage_log.read_text().splitlines():
            record = json.loads(line)
            name = stage_name(record["argv"])
            stages[name] = StageRun(
                argv=record["argv"],
                wall=round(record["wall"], 3),
                cpu=round(record["cpu"], 3),
                peak_rss_mb=round(record["maxrss_kb"] / 1024, 1),
                exit=record["exit"],
                work=work.get(name),
            )
    return stages


def read_metrics(repo: Path) -> dict[str, Scores]:
    """Every model's accuracy under metrics/<model>/scores/ (val, test and cv, those present)."""
    out = {}
    for folder in sorted((repo / "metrics").glob("*/scores")):
        found = {
            split: json.loads((folder / f"{split}.json").read_text())["acc"]
            for split in ("val", "test", "cv")
            if (folder / f"{split}.json").is_file()
        }
        out[folder.parent.name] = Scores(**found)
    return out


def metrics_fingerprint(repo: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((repo / "metrics").rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(repo)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def timed_dvc(box: Sandbox, *args: str) -> DvcRun:
    """Run ``dvc <args>`` in the copy; its wall time and every stage it ran."""
    box.stage_log.unlink(missing_ok=True)
    box.work_log.unlink(missing_ok=True)
    load_before = load()
    wall, stdout = run([DVC, *args], box.copy, box.env())
    return DvcRun(
        args=list(args),
        wall=round(wall, 3),
        stages=read_stage_logs(box.stage_log, box.work_log),
        ran=re.findall(r"Running stage '([^']+)'", stdout),
        load_before=load_before,
        load_after=load(),
    )


# ---------------------------------------------------------------------------------------------
# Processes in fresh interpreters: kernels, calibration, start-up


def measure_process(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; return its wall seconds, peak RSS in MB (``os.wait4``, that process's
    own) and stdout. Fails loudly."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr)
        # Read stdout to the end, then reap the process ourselves to get its own rusage.
        stdout = process.stdout.read()
        process.stdout.close()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if process.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(
                f"{' '.join(command)} exited {process.returncode}:\n"
                f"{stderr.read().decode()[-4000:]}"
            )
    return round(wall, 3), round(usage.ru_maxrss / 1024, 1), stdout.decode()


def kernel_env(copy: Path | None) -> dict[str, str]:
    """benchmarks/ (for ``bench``) and the copy's src/ on PYTHONPATH."""
    paths = [str(BENCHMARKS), *([str(copy / "src")] if copy else [])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def measure_kernel(copy: Path, name: str, *args: str | int) -> KernelRun:
    """Run one kernel of ``bench.kernels`` in a fresh interpreter; add its process's wall time
    and peak RSS."""
    command = [str(PYTHON), "-m", "bench.kernels", name, "--data", str(copy), *map(str, args)]
    wall, rss, stdout = measure_process(command, copy, kernel_env(copy))
    result = KernelRun(**json.loads(stdout.strip().splitlines()[-1]))
    return replace(result, process_wall=wall, peak_rss_mb=rss)


def calibrate(rounds: int = CALIBRATION_ROUNDS) -> list[Calibration]:
    """The reference kernels of ``bench.kernels``, ``rounds`` times each, in a fresh
    interpreter."""
    command = [str(PYTHON), "-m", "bench.kernels", "calibrate", str(rounds)]
    _, _, stdout = measure_process(command, BENCHMARKS, kernel_env(None))
    return [Calibration(**c) for c in json.loads(stdout.strip().splitlines()[-1])]


class Clock:
    """The run's calibration rounds: ``boundary`` times the reference kernels between the phase
    that just ended and the one about to begin."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.rounds: list[CalibrationRound] = []
        self.phase: str | None = None

    def boundary(self, before: str | None) -> None:
        """End the current phase and begin ``before`` (None: the run's end) with one round of
        the reference kernels (``CALIBRATION_ROUNDS`` at the run's start and end)."""
        edge = not self.rounds or before is None
        log(f"calibration: {self.phase or 'start'} -> {before or 'end'}")
        at, load_now = round(time.perf_counter() - self.started, 1), load()
        kernels = calibrate(CALIBRATION_ROUNDS if edge else BOUNDARY_ROUNDS)
        self.rounds.append(CalibrationRound(self.phase, before, at, load_now, kernels))
        self.phase = before


def python_startup() -> dict[str, float]:
    """Seconds to start the interpreter and import what stages import (best of 3)."""
    out = {}
    for module in ("", "numpy", "pandas", "sklearn", "sklearn.svm", "scipy.ndimage"):
        code = f"import {module}" if module else "pass"
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([str(PYTHON), "-c", code], check=True)
            best = min(best, time.perf_counter() - started)
        out[module or "python -c pass"] = round(best, 3)
    return out


def parse_importtime(stderr: str, top: int = IMPORT_PROFILE_TOP) -> tuple[float, list[ImportCost]]:
    """From ``python -X importtime`` output: the seconds of all imports, and the ``top``
    outermost imports by cumulative seconds."""
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            own, cumulative, indent, module = match.groups()
            rows.append((int(own), int(cumulative), len(indent), module))
    if not rows:
        return 0.0, []
    outermost = min(indent for _, _, indent, _ in rows)
    costs = sorted(
        (
            ImportCost(module, round(cumulative / 1e6, 3))
            for _, cumulative, indent, module in rows
            if indent == outermost
        ),
        key=lambda c: -c.cumulative,
    )
    return round(sum(own for own, *_ in rows) / 1e6, 3), costs[:top]


def import_profile(copy: Path, stage: str, argv: list[str]) -> ImportProfile:
    """Run the stage's command again (``argv``, as dvc ran it) under ``python -X importtime``:
    every import it makes, those inside its work too. It rewrites the stage's outputs in the
    copy: run it last, before ``dvc checkout --force`` or the copy's removal."""
    command = [str(PYTHON), "-X", "importtime", *argv]
    result = subprocess.run(
        command, cwd=copy, env=kernel_env(copy), capture_output=True, text=True, check=True
    )
    total, top = parse_importtime(result.stderr)
    return ImportProfile(stage=stage, command=["python", *command[1:]], total=total, top=top)


def machine() -> Machine:
    import importlib.metadata as md

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    versions = {}
    for package in ("numpy", "scipy", "scikit-learn", "pandas", "dvc"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[package] = md.version(package)
    blas = ""
    with contextlib.suppress(Exception):
        import numpy  # noqa: F401  (loads the BLAS that threadpoolctl reports)
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            blas = (
                f"{info[0].get('internal_api')} {info[0].get('version')} "
                f"({info[0].get('num_threads')} threads, {info[0].get('architecture')})"
            )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Machine(
        cpu=cpu,
        cores=cores or 0,
        ram_gib=round(mem_kb / 2**20, 1),
        python=platform.python_version(),
        platform=platform.platform(),
        versions=versions,
        blas=blas,
    )


# ---------------------------------------------------------------------------------------------
# One repeat, the feature experiments, the whole run


def nearest_stage_vs_bare(box: Sandbox, scratch: Path, options: Options) -> list[NearestPair]:
    """``evaluate@nearest``'s own command (outputs to a scratch folder) and the bare product,
    alternately, so that each ratio compares two runs minutes apart at most."""
    command = [
        str(PYTHON),
        "src/evaluate.py",
        "--params",
        "params.yaml",
        "--model",
        "nearest",
        "--model-dir",
        "stages/train/nearest",
        "--features",
        "stages/normalize",
        "--metrics-dir",
        str(scratch / "metrics"),
        "--out",
        str(scratch / "out"),
    ]
    out = []
    for _ in range(options.pairs):
        wall, rss, _ = measure_process(command, box.copy, kernel_env(box.copy))
        bare = measure_kernel(box.copy, "bare_matmul", options.block_rows)
        out.append(NearestPair(wall, rss, round(bare.seconds, 3)))
    return out


def notebook_kernels(copy: Path, options: Options) -> dict[str, KernelRun]:
    """The notebooks' methods against ours, each in a fresh interpreter."""
    kernels = {
        "cosine_1nn_val_test": measure_kernel(
            copy, "one_nn", "cosine_1nn", "normalize", "val,test"
        ),
        "cosine_1nn_test": measure_kernel(copy, "one_nn", "cosine_1nn", "normalize", "test"),
        "notebook_float64_test": measure_kernel(
            copy, "one_nn", "notebook_float64", "normalize", "test"
        ),
    }
    if not options.skip_sklearn_knn:
        kernels["cosine_1nn_pca_val_test"] = measure_kernel(
            copy, "one_nn", "cosine_1nn", "pca", "val,test"
        )
        for method in ("sklearn_cosine", "sklearn_euclidean_unit"):
            for features in ("normalize", "pca"):
                kernels[f"{method}_{features}_val_test"] = measure_kernel(
                    copy, "one_nn", method, features, "val,test"
                )
    for flavour in ("numpy", "sklearn"):
        kernels[f"mlp_per_sample_{flavour}"] = measure_kernel(
            copy, "mlp_per_sample", options.mlp_samples, flavour
        )
    kernels["mlp_minibatch"] = measure_kernel(copy, "mlp_minibatch")
    if (copy / "stages/raw/train.npz").is_file():  # checkouts from before gd_4 have none
        kernels["gd_4_fit"] = measure_kernel(copy, "gradient_descent", "ours")
        kernels["gd_4_recast_per_iteration"] = measure_kernel(
            copy, "gradient_descent", "recast", options.gd_iterations
        )
    return kernels


def svm_fit_rounds(copy: Path, rounds: int, model: str = SVM_MODEL) -> list[SvmFitRound]:
    """``rounds`` rounds of today's SVC and the pipeline's estimator for ``model``, each fitted
    and predicting in a fresh interpreter on the copy's data (``bench.kernels.svm_fit``), today's
    first in odd rounds and second in even ones."""
    out = []
    for number in range(rounds):
        order = list(SVM_SIDES if number % 2 == 0 else reversed(SVM_SIDES))
        runs = {side: measure_kernel(copy, "svm_fit", side, model) for side in order}
        out.append(SvmFitRound(model, order, runs["today"], runs["pipeline"]))
    return out


def cold_repro(box: Sandbox, options: Options) -> ColdRun:
    """``dvc repro <core target>`` then ``dvc repro`` in the fresh copy."""
    core = timed_dvc(box, "repro", *filter(None, [options.core_target]))
    rest = timed_dvc(box, "repro") if options.core_target else None
    history = box.copy / "metrics/gd_4/history.csv"
    cold = ColdRun(
        core=core,
        rest=rest,
        metrics=read_metrics(box.copy),
        metrics_sha256=metrics_fingerprint(box.copy),
        gd_4_loss_195=(
            float(history.read_text().splitlines()[1 + 195].split(",")[1])
            if history.is_file()
            else None
        ),
    )
    failed = {k: v for k, v in cold.stages.items() if v.exit != 0}
    if failed:
        raise RuntimeError(f"stages failed: {failed}")
    return cold


def one_repeat(index: int, root: Path, options: Options, clock: Clock) -> Repeat:
    """One repeat in a fresh copy under ``root``, the reference kernels timed by ``clock``
    before each of its phases."""
    box = Sandbox(
        copy=benchmark_copy(root / "repo"),
        wrapper=write_wrapper(root / "wrapper"),
        stage_log=root / "stages.jsonl",
        work_log=root / "work.jsonl",
    )
    env = box.env()
    clock.boundary(Phase.of(index, Phase.COLD))
    log(f"repeat {index}: cold dvc repro {options.core_target} in {box.copy}")
    cold = cold_repro(box, options)
    log(
        f"repeat {index}: cold {cold.core.wall:.1f} s"
        + (f" + {cold.rest.wall:.1f} s for the other stages" if cold.rest else "")
    )
    clock.boundary(Phase.of(index, Phase.DVC))
    # The reproduced state becomes the copy's HEAD: the baseline of the experiments, and what
    # the feature experiments return to.
    run(["git", "add", "-A"], box.copy, env)
    run(["git", "commit", "-q", "-m", "cold dvc repro"], box.copy, env)
    noop, status = noop_and_status(box)
    log(f"repeat {index}: no-op repro {min(noop):.2f} s or more, status {min(status):.2f} s")
    log(f"repeat {index}: evaluate@nearest against the bare matrix product")
    pairs = nearest_stage_vs_bare(box, root / "scratch", options)
    svm_fit: list[SvmFitRound] = []
    if not options.skip_svm_fit:
        clock.boundary(Phase.of(index, Phase.SVM_FIT))
        log(f"repeat {index}: svm_fit, today's SVC against the pipeline's, {options.svm_rounds}x")
        svm_fit = svm_fit_rounds(box.copy, options.svm_rounds)
    kernels: dict[str, KernelRun] = {}
    if not options.skip_notebooks:
        clock.boundary(Phase.of(index, Phase.NOTEBOOKS))
        log(f"repeat {index}: notebook methods vs ours")
        kernels = notebook_kernels(box.copy, options)
    clock.boundary(Phase.of(index, Phase.EXP_RUNS))
    log(f"repeat {index}: dvc exp run -S pca.n=40")
    exp_pca40 = timed_dvc(box, "exp", "run", "-S", "pca.n=40")
    run(["git", "reset", "-q", "--hard", "HEAD"], box.copy, env)
    run([DVC, "checkout", "--force"], box.copy, env)
    log(f"repeat {index}: dvc exp run -S models.svm.C=5")
    exp_svm_c5 = timed_dvc(box, "exp", "run", "-S", "models.svm.C=5")
    profile = None
    if index == 1:
        clock.boundary(Phase.of(index, Phase.IMPORT_PROFILE))
        stages = cold.stages
        worst = max(stages, key=lambda name: stages[name].overhead or 0.0)
        log(f"repeat {index}: python -X importtime for {worst}")
        profile = import_profile(box.copy, worst, stages[worst].argv)
    return Repeat(
        index=index,
        cold=cold,
        noop_repro=noop,
        status=status,
        nearest_vs_bare=pairs,
        kernels=kernels,
        exp_pca40=exp_pca40,
        import_profile=profile,
        exp_svm_c5=exp_svm_c5,
        svm_fit=svm_fit,
    )


def noop_and_status(box: Sandbox) -> tuple[list[float], list[float]]:
    """``NOOP_PAIRS`` times a no-op ``dvc repro`` then ``dvc status`` in the reproduced copy:
    the seconds of each. A no-op repro that runs a stage is an error."""
    env = box.env()
    noop, status = [], []
    for _ in range(NOOP_PAIRS):
        wall, stdout = run([DVC, "repro"], box.copy, env)
        if "Running stage" in stdout:
            raise RuntimeError(f"a second dvc repro ran stages:\n{stdout}")
        noop.append(round(wall, 3))
        status.append(round(run([DVC, "status"], box.copy, env)[0], 3))
    return noop, status


def feature_experiments(root: Path) -> list[Experiment]:
    """Each of ``EXPERIMENTS`` as ``dvc exp run -S ...`` from the cold run's state (the copy's
    HEAD, restored before each): every model's accuracy."""
    out = []
    for name, settings in EXPERIMENTS.items():
        box = Sandbox(root / "repo", root / "wrapper", root / f"{name}.jsonl", root / "work.jsonl")
        env = box.env()
        run(["git", "reset", "-q", "--hard", "HEAD"], box.copy, env)
        run([DVC, "checkout", "--force"], box.copy, env)
        log(f"dvc exp run -S {' -S '.join(settings)}")
        measured = timed_dvc(box, "exp", "run", *[a for s in settings for a in ("-S", s)])
        out.append(Experiment(name, list(settings), measured, read_metrics(box.copy)))
    return out


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
    try:
        yield root
    finally:
        if keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def run_benchmark(options: Options) -> Results:
    """Run every repeat and the feature experiments, the reference kernels timed at the start,
    between every two phases and at the end."""
    params = load_params(REPO / "params.yaml")
    load_before = load()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    startup = python_startup()
    clock = Clock()
    repeats: list[Repeat] = []
    experiments: list[Experiment] = []
    with workspace(options.keep) as root:
        for index in range(1, options.repeat + 1):
            repeat_root = root / f"repeat-{index}"
            repeat_root.mkdir()
            repeats.append(one_repeat(index, repeat_root, options, clock))
            last = repeat_root
            if index < options.repeat and not options.keep:
                shutil.rmtree(repeat_root / "repo", ignore_errors=True)
        if not options.skip_deskew:
            clock.boundary(Phase.FEATURE_EXPERIMENTS)
            experiments = feature_experiments(last)
    clock.boundary(None)
    return Results(
        repeat=options.repeat,
        started=started,
        machine=machine(),
        limits=dict(LIMITS),
        notebooks=dict(params.dataset.references.test),
        notebook_cv=dict(params.dataset.references.cv),
        load_before=load_before,
        load_after=load(),
        calibration=clock.rounds,
        startup=startup,
        runs=repeats,
        experiments=experiments,
        separate_models=list(options.separate),
    )
