"""The pipeline's benchmark: a cold ``dvc repro`` of full MNIST in a copy of the project and
the targets it is judged by, as raw seconds beside same-run ratios; then cold runs on other
training-set sizes (the scaling table). Writes ``runs/<date>-pipeline.md`` and ``.json``."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from bench import pipeline
from bench.kernels import benchmark_env, measure, ratio, reference_seconds
from bench.pipeline import DvcRun, dvc, git
from bench.probes import SIDES
from bench.report import RUNS, load, log, machine, publish, table

LIMITS = {"noop_over_status": 1.5, "exp_pca40_over_cold": 0.35, "nearest_over_bare": 1.3,
          "startup_share": 0.15, "svm_fit_over_today": 0.5, "cold_seconds": 60.0,
          "peak_rss_mb": 2048.0}  # fmt: skip
SVM_MIN_ACCURACY = 0.99
MNIST_TRAIN = 50_000
SIZES = (6_250, 12_500, 25_000, 50_000, 200_000)
NOOP_PAIRS = 5
EXPERIMENTS = ("pca.n=40", "models.svm.C=5")


@dataclass
class Measured:
    """What one run measured; the JSON results file holds it as it is."""

    machine: dict
    load: list[list[float]]
    references: dict[str, dict[str, list[float]]]  # the kernels' samples at start and end
    cold: DvcRun
    identical_outputs: bool
    noop_repro: list[float]
    status: list[float]
    nearest: list[list[float]]  # pairs: evaluate@nearest's wall seconds, the bare product's
    nearest_imports_sklearn: bool
    import_sklearn: float
    svm_fit: list[dict]  # rounds: which side went first, and each side's probe
    experiments: dict[str, DvcRun]
    scaling: dict[int, DvcRun]  # the cold runs of the other training-set sizes


@dataclass
class Target:
    """A timing, what it is judged against, their ratio; ``limit`` bounds it or ``value``."""

    name: str
    seconds: float
    against: str
    against_seconds: float | None
    ratio: float | None
    limit: float | None = None
    value: float | None = None
    unit: str = ""

    @property
    def met(self) -> bool | None:
        measured = self.ratio if self.value is None else self.value
        return None if self.limit is None else measured <= self.limit


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def compared(name: str, ours: list[float], against: str, theirs: list[float], limit=None):
    """A target of paired samples: the medians, and the median of the per-pair ratios."""
    value = median([ratio(a, b) for a, b in zip(ours, theirs, strict=True)])
    return Target(name, median(ours), against, median(theirs), value, limit)


def probe(copy: Path, name: str, *args: str) -> dict:
    command = [sys.executable, "-m", "bench.probes", name, str(copy), *args]
    return json.loads(measure(command, env=benchmark_env(copy / "src")).stdout)


def nearest_command(scratch: Path) -> list[str]:
    """``evaluate@nearest`` as dvc.yaml runs it, writing to ``scratch`` (in the copy: a stage's
    outputs must stay inside its repository)."""
    return [
        *(sys.executable, "src/evaluate.py", "--params", "params.yaml", "--model", "nearest"),
        *("--model-dir", "stages/train/nearest", "--features", "stages/normalize"),
        *("--metrics-dir", str(scratch / "metrics"), "--out", str(scratch / "out")),
    ]


def imports_sklearn(command: list[str], copy: Path) -> bool:
    """Whether ``command`` imports scikit-learn (``python -X importtime``)."""
    lines = measure([command[0], "-X", "importtime", *command[1:]], cwd=copy).stderr.splitlines()
    return any(line.rsplit("|", 1)[-1].strip().split(".")[0] == "sklearn" for line in lines)


def measure_run(sizes: list[int], pairs: int, svm_rounds: int, root: Path) -> Measured:
    """The phases of a run, in fresh copies under ``root``."""
    about, start = machine(), reference_seconds()
    copy = pipeline.make_copy(root / "repo")
    log(f"cold dvc repro in {copy}")
    cold = dvc(copy, "repro")
    identical = pipeline.outputs(copy) == pipeline.outputs(pipeline.REPO)
    git(copy, "add", "-A")
    git(copy, "commit", "-q", "-m", "cold dvc repro")
    noop, status = [], []
    for _ in range(NOOP_PAIRS):
        again = dvc(copy, "repro")
        if again.stages:
            raise RuntimeError(f"a second dvc repro ran stages: {', '.join(again.stages)}")
        noop.append(again.wall)
        status.append(dvc(copy, "status").wall)
    log("evaluate@nearest and its bare matrix product, one after the other")
    command, nearest = nearest_command(copy / "bench-scratch"), []
    for _ in range(pairs):
        wall = measure(command, cwd=copy).wall
        nearest.append([wall, probe(copy, "bare_matmul")["seconds"]])
    with_sklearn = imports_sklearn(command, copy)
    shutil.rmtree(copy / "bench-scratch")
    import_sklearn = min(measure([sys.executable, "-c", "import sklearn"]).wall for _ in range(3))
    log("svm_fit: today's SVC and the pipeline's estimator, alternated")
    orders = [SIDES[:: -1 if number % 2 else 1] for number in range(svm_rounds)]
    svm_fit = [{"first": o[0], **{s: probe(copy, "svm_fit", s) for s in o}} for o in orders]
    experiments = {}
    for setting in EXPERIMENTS:
        log(f"dvc exp run -S {setting}")
        experiments[setting] = dvc(copy, "exp", "run", "-S", setting)
        pipeline.reset(copy)
    shutil.rmtree(copy)
    scaling = {}
    for n in sorted(set(sizes) - {MNIST_TRAIN}):
        log(f"cold dvc repro on {n:,} training images")
        other = pipeline.make_copy(root / f"repo-{n}")
        pipeline.use_training_set(other, n)
        scaling[n] = dvc(other, "repro")
        shutil.rmtree(other)
        shutil.rmtree(root / f"repo-{n}-data")
    references = {"start": start, "end": reference_seconds()}
    return Measured(
        *(about, [about["load"], load()], references, cold, identical, noop, status, nearest),
        *(with_sklearn, import_sklearn, svm_fit, experiments, scaling),
    )


def targets(m: Measured) -> list[Target]:
    """Every target: raw seconds, what it is judged against and the same-run ratio."""
    cold, (pca, svm_c) = m.cold, (m.experiments[setting] for setting in EXPERIMENTS)
    svc = min(m.references["start"]["svc_fit"] + m.references["end"]["svc_fit"])
    peak = max(cold.stages, key=lambda name: cold.stages[name].peak_rss_mb)
    exp = "`dvc exp run -S {}` / cold `dvc repro`"
    fit = {side: [r[side]["fit"] for r in m.svm_fit] for side in SIDES}
    bare = [b for _, b in m.nearest]
    return [
        compared("no-op `dvc repro` / `dvc status`", m.noop_repro, "`dvc status`", m.status,
                 LIMITS["noop_over_status"]),
        Target(exp.format("pca.n=40"), pca.wall, "cold `dvc repro`", cold.wall,
               ratio(pca.wall, cold.wall), LIMITS["exp_pca40_over_cold"]),
        Target("the same, the stages' CPU seconds", pca.cpu, "the cold run's", cold.cpu,
               ratio(pca.cpu, cold.cpu)),
        Target(exp.format("models.svm.C=5"), svm_c.wall, "cold `dvc repro`", cold.wall,
               ratio(svm_c.wall, cold.wall)),
        compared("`evaluate@nearest` / its bare matrix product, paired", [a for a, _ in m.nearest],
                 "bare product", bare, LIMITS["nearest_over_bare"]),
        Target("stages' start-up (wall less work) / cold `dvc repro`", cold.startup,
               "cold `dvc repro`", cold.wall, ratio(cold.startup, cold.wall),
               LIMITS["startup_share"]),
        compared("`train@svm` fit / today's `SVC` fit, alternated", fit["pipeline"],
                 "today's `SVC` fit", fit["today"], LIMITS["svm_fit_over_today"]),
        Target("cold `dvc repro`", cold.wall, "`svc_fit`, fastest", svc, ratio(cold.wall, svc),
               LIMITS["cold_seconds"], cold.wall, "s"),
        Target("the cold run's stages' CPU seconds", cold.cpu, "`svc_fit`, fastest", svc,
               ratio(cold.cpu, svc)),
        Target(f"peak RSS of any stage (`{peak}`): {cold.stages[peak].peak_rss_mb:.0f} MB",
               cold.stages[peak].wall, "", None, None, LIMITS["peak_rss_mb"],
               cold.stages[peak].peak_rss_mb, "MB"),
    ]  # fmt: skip


def checks(m: Measured) -> dict[str, bool]:
    """What must hold besides the timings."""
    accurate = all(r["pipeline"]["accuracy"] >= SVM_MIN_ACCURACY for r in m.svm_fit)
    same = all(r["pipeline"]["sha256"] == r["today"]["sha256"] for r in m.svm_fit)
    return {
        "every metrics/ and plots/ file of the cold run is the committed one": m.identical_outputs,
        "`evaluate@nearest` imports no scikit-learn": not m.nearest_imports_sklearn,
        f"svm_fit: the pipeline's test accuracy >= {SVM_MIN_ACCURACY} in every round": accurate,
        "svm_fit: the pipeline predicts what `SVC` predicts in every round": same,
    }


def growth(walls: dict[int, float]) -> float:
    """The least-squares slope of log(wall) against log(n)."""
    return float(np.polyfit(np.log(list(walls)), np.log(list(walls.values())), 1)[0])


def cells(*values: float | str | None, digits: int = 2) -> list[str]:
    """Table cells: numbers to ``digits`` decimals, None empty."""
    return ["" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else v for v in values]


def stage_lines(cold: DvcRun, scaling: dict[int, DvcRun]) -> list[str]:
    """One row per stage, slowest on the largest training set first: the cold run's work,
    start-up, CPU and peak memory; the wall seconds at every size, the largest size's peak
    memory and the growth exponents over every size and between the two largest."""
    runs = {**scaling, MNIST_TRAIN: cold}
    sizes = sorted(runs)
    last, scaled = runs[sizes[-1]], len(sizes) > 1
    head = ["stage", "work s", "start-up s", "CPU s", "RSS MB", *(f"{n:,} s" for n in sizes)]
    if scaled:
        head += [f"{sizes[-1]:,} RSS MB", "exponent", f"{sizes[-2]:,}->{sizes[-1]:,}"]
    rows = []
    for name in sorted(cold.stages, key=lambda s: -last.stages[s].wall):
        s, walls = cold.stages[name], {n: runs[n].stages[name].wall for n in sizes}
        row = [f"`{name}`", *cells(s.work, digits=1), *cells(s.startup, s.cpu)]
        row += [f"{s.peak_rss_mb:.0f}", *cells(*walls.values())]
        if scaled:
            tail = {n: walls[n] for n in sizes[-2:]}
            row += [f"{last.stages[name].peak_rss_mb:.0f}", *cells(growth(walls), growth(tail))]
        rows.append(row)
    total = ["cold `dvc repro`", "", *cells(cold.startup, cold.cpu, digits=1), ""]
    return table(head, [*rows, total + [f"**{runs[n].wall:.1f}**" for n in sizes]])


def target_row(t: Target) -> list[str]:
    limit = "" if t.limit is None else f"{t.limit:g} {t.unit}".strip()
    met = {True: "yes", False: "**no**", None: ""}[t.met]
    ratio = "" if t.ratio is None else f"{t.ratio:g}"
    return [t.name, *cells(t.seconds), t.against, *cells(t.against_seconds), ratio, limit, met]


def markdown(m: Measured, found: list[Target], ok: dict[str, bool]) -> list[str]:
    """The report of a run, below its title and machine line."""
    rows = [target_row(t) for t in found]
    rows += [[name, "", "", "", "", "", "yes" if met else "**no**"] for name, met in ok.items()]
    end = m.references["end"]
    fastest = [f"`{k}` {min(v):.3f}, {min(end[k]):.3f}" for k, v in m.references["start"].items()]
    return [
        f"Load average {m.load[-1]} at the end. Reference kernels' fastest sample, s (start, "
        f"end): {', '.join(fastest)}; `python -c 'import sklearn'` {m.import_sklearn:.2f} s.",
        "",
        *table(["target", "s", "against", "s", "ratio", "limit", "met"], rows),
        "",
        f"Stages of the cold run ({MNIST_TRAIN:,} training images, MNIST's own) and the cold "
        "runs on the other training-set sizes. Work: the seconds the stage logged (`done in`, "
        "to 0.1 s); start-up: its wall less its work; the rest of a cold run is dvc's own.",
        "",
        *stage_lines(m.cold, m.scaling),
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure, write the results files, print the report; 1 if a target or check failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="the scaling table's training-set sizes (%(default)s; 50000 alone: "
                        "no table, 5 minutes on two quiet cores instead of 15)")  # fmt: skip
    parser.add_argument("--pairs", type=int, default=2, help="evaluate@nearest / bare pairs")
    parser.add_argument("--svm-rounds", type=int, default=3, help="svm_fit rounds")
    parser.add_argument("--out", type=Path, default=RUNS, help="results folder (%(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mnist-bench-") as root:
        measured = measure_run(args.sizes, args.pairs, args.svm_rounds, Path(root))
    found, ok = targets(measured), checks(measured)
    data = {**asdict(measured), "targets": [asdict(t) for t in found], "checks": ok}
    title, lines = f"Pipeline benchmark, {measured.machine['date']}", markdown(measured, found, ok)
    path = publish("pipeline", title, measured.machine, lines, data, args.out)
    log(f"wrote {path} and its .json")
    return 0 if all(t.met is not False for t in found) and all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
