"""From a benchmark run's records to its conclusions: medians over the repeats, the targets
judged against their limits, every timing as raw seconds and as a ratio (to a part of the
pipeline measured beside it, or to the reference kernels timed on either side of its phase),
and the Markdown report."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench.records import (
    Calibration,
    CalibrationRound,
    ColdRun,
    KernelRun,
    Phase,
    Repeat,
    Results,
    Scores,
    StageRun,
    StageSummary,
    Summary,
    SvmFitRound,
    SvmFitSummary,
    Target,
    median,
)

GD_NOTEBOOK_LOSS_195 = 0.06895031073787411
"""The IDX notebook's printed loss after 195 gradient-descent updates (models.gd_4)."""
NOTEBOOK_TOLERANCE = {"mlp": 0.005}
"""How far a model's test accuracy may be from its notebook's (params.yaml ``notebooks``); the
others must be equal. The MLP article's 97.2% is one run of a randomly initialised network."""
COLD_REFERENCE = "svc_fit"
"""The reference kernel the cold runs' seconds are divided by: like most stages, scikit-learn
work in a fresh interpreter."""
KERNEL_REFERENCE = {"mlp_per_sample_numpy": "python_loop", "mlp_per_sample_sklearn": "python_loop"}
"""The reference kernel each micro-benchmark is divided by (the others: ``gemm``)."""


# ---------------------------------------------------------------------------------------------
# The reference kernels: per phase, and over the run


def pooled(rounds: list[CalibrationRound]) -> list[Calibration]:
    """One record per kernel with the samples of every round, in the first round's order."""
    merged: dict[str, Calibration] = {}
    for calibration_round in rounds:
        for c in calibration_round.kernels:
            if c.kernel in merged:
                merged[c.kernel].seconds.extend(c.seconds)
            else:
                merged[c.kernel] = Calibration(c.kernel, c.description, list(c.seconds))
    return list(merged.values())


def phase_reference(rounds: list[CalibrationRound], phase: str) -> dict[str, float]:
    """Each reference kernel's seconds around ``phase``: the mean of its medians in the rounds
    timed just before and just after the phase. A phase no round is next to is a ValueError
    that lists the phases the run timed."""
    around = [r for r in rounds if phase in (r.before, r.after)]
    if not around:
        known = ", ".join(r.before for r in rounds if r.before) or "none"
        raise ValueError(f"no calibration round next to phase {phase!r}; phases timed: {known}")
    kernels = dict.fromkeys(c.kernel for r in around for c in r.kernels)
    out = {}
    for kernel in kernels:
        seconds = [x for r in around if (x := r.seconds(kernel)) is not None]
        out[kernel] = round(statistics.fmean(seconds), 4)
    return out


def phase_references(rounds: list[CalibrationRound]) -> dict[str, dict[str, float]]:
    """``phase_reference`` of every phase the run timed, in running order."""
    phases = dict.fromkeys(r.before for r in rounds if r.before)
    return {phase: phase_reference(rounds, phase) for phase in phases}


@dataclass(frozen=True)
class PhaseTiming:
    """One of the main timings: the phase of a repeat it was measured in, and its seconds in
    each repeat that measured it (several samples for the short dvc commands)."""

    phase: str
    per_repeat: dict[int, list[float]]

    @property
    def seconds(self) -> float:
        """The median of every sample."""
        return median([x for samples in self.per_repeat.values() for x in samples])

    def units(self, references: dict[str, dict[str, float]]) -> dict[str, float]:
        """Each reference kernel's units: in each repeat, the median of its samples over that
        kernel timed around the repeat's phase; the median over the repeats."""
        per_kernel: dict[str, list[float]] = {}
        for index, samples in self.per_repeat.items():
            for kernel, seconds in references[Phase.of(index, self.phase)].items():
                per_kernel.setdefault(kernel, []).append(statistics.median(samples) / seconds)
        return {kernel: round(statistics.median(v), 1) for kernel, v in per_kernel.items()}


def per_repeat(
    runs: list[Repeat], phase: str, value: Callable[[Repeat], float | list[float] | None]
) -> PhaseTiming:
    """``value`` of each repeat (one float, a list of samples, or None where not measured)."""
    out = {}
    for r in runs:
        found = value(r)
        if found is not None and found != []:
            out[r.index] = list(found) if isinstance(found, list) else [found]
    return PhaseTiming(phase, out)


def main_timings(runs: list[Repeat]) -> dict[str, PhaseTiming]:
    """The timings the report gives in reference-kernel units, each with its phase; those a run
    did not measure are left out."""

    def stage_wall(name: str) -> Callable[[Repeat], float | None]:
        return lambda r: r.cold.stages[name].wall if name in r.cold.stages else None

    def svm(side: str) -> Callable[[Repeat], list[float]]:
        return lambda r: [getattr(x, side).seconds for x in r.svm_fit]

    timings = {
        "cold `dvc repro`": per_repeat(runs, Phase.COLD, lambda r: r.cold.wall),
        "cold `dvc repro evaluate`": per_repeat(runs, Phase.COLD, lambda r: r.cold.core.wall),
        "the stages' work, summed (cold run)": per_repeat(
            runs,
            Phase.COLD,
            lambda r: sum(s.work for s in r.cold.stages.values() if s.work is not None),
        ),
        "no-op `dvc repro`": per_repeat(runs, Phase.DVC, lambda r: r.noop_repro),
        "`dvc status`": per_repeat(runs, Phase.DVC, lambda r: r.status),
        "`dvc exp run -S pca.n=40`": per_repeat(runs, Phase.EXP_RUNS, lambda r: r.exp_pca40.wall),
        "`dvc exp run -S models.svm.C=5`": per_repeat(
            runs, Phase.EXP_RUNS, lambda r: r.exp_svm_c5.wall if r.exp_svm_c5 else None
        ),
        "`train@svm` (cold run)": per_repeat(runs, Phase.COLD, stage_wall("train@svm")),
        "svm_fit: today's SVC fit": per_repeat(runs, Phase.SVM_FIT, svm("today")),
        "svm_fit: the pipeline's fit": per_repeat(runs, Phase.SVM_FIT, svm("pipeline")),
        "`evaluate@nearest`": per_repeat(
            runs, Phase.DVC, lambda r: [p.stage_wall for p in r.nearest_vs_bare]
        ),
        "bare float32 blocked product": per_repeat(
            runs, Phase.DVC, lambda r: [p.bare_seconds for p in r.nearest_vs_bare]
        ),
    }
    return {name: t for name, t in timings.items() if t.per_repeat}


# ---------------------------------------------------------------------------------------------
# Medians over the repeats


def stage_table(runs: list[dict[str, StageRun]]) -> dict[str, StageSummary]:
    """Median wall, CPU, peak RSS and work of each stage over the repeats, in running order."""
    names = list(dict.fromkeys(name for stages in runs for name in stages))
    table = {}
    for name in names:
        seen = [stages[name] for stages in runs if name in stages]
        work = [s.work for s in seen if s.work is not None]
        table[name] = StageSummary(
            wall=median([s.wall for s in seen]),
            cpu=median([s.cpu for s in seen]),
            peak_rss_mb=median([s.peak_rss_mb for s in seen]),
            work=median(work) if work else None,
        )
    return table


def without_models(cold: ColdRun, models: list[str]) -> float:
    """Estimate of the model pipeline's cold wall time without ``models``: less their train
    and evaluate stages' wall time and those stages' mean share of dvc's own overhead."""
    core = cold.core
    names = [f"{step}@{m}" for m in models for step in ("train", "evaluate")]
    present = [n for n in names if n in core.stages]
    per_stage = core.dvc_overhead / max(len(core.stages), 1)
    return core.wall - sum(core.stages[n].wall for n in present) - per_stage * len(present)


def stage_overhead(cold: ColdRun) -> float | None:
    """The sum of the stages' overheads (wall less work), over the stages that logged work."""
    overheads = [s.overhead for s in cold.stages.values() if s.overhead is not None]
    return round(sum(overheads), 3) if overheads else None


def kernel_medians(runs: list[dict[str, KernelRun]]) -> dict[str, KernelRun]:
    """Each micro-benchmark's medians over the repeats (accuracy and sizes: the first run's)."""
    runs = [r for r in runs if r]
    out = {}
    for name, first in (runs[0] if runs else {}).items():
        seen = [r[name] for r in runs if name in r]
        extrapolated = [k.extrapolated_seconds for k in seen if k.extrapolated_seconds]
        out[name] = KernelRun(
            seconds=median([k.seconds for k in seen]),
            accuracy=first.accuracy,
            samples=first.samples,
            extrapolated_to=first.extrapolated_to,
            extrapolated_seconds=median(extrapolated) if extrapolated else None,
            loss_195=first.loss_195,
            peak_rss_mb=median([k.peak_rss_mb for k in seen if k.peak_rss_mb is not None]),
        )
    return out


def kernel_units(runs: list[Repeat], references: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each micro-benchmark over its reference kernel (``KERNEL_REFERENCE``, else ``gemm``)
    timed around the notebook methods' phase of the same repeat: the median over the
    repeats."""
    ratios: dict[str, list[float]] = {}
    for r in runs:
        if not r.kernels:
            continue
        reference = references[Phase.of(r.index, Phase.NOTEBOOKS)]
        for name, k in r.kernels.items():
            unit = reference.get(KERNEL_REFERENCE.get(name, "gemm"))
            if unit:
                ratios.setdefault(name, []).append(k.seconds / unit)
    return {name: round(statistics.median(v), 1) for name, v in ratios.items()}


def cold_cpu_units(cpu_seconds: float | None, rounds: list[CalibrationRound]) -> dict[str, float]:
    """``cpu_seconds`` over each reference kernel's fastest sample in the run.

    Wall time on a shared machine grows with whatever else runs, and a short kernel round
    catches a burst of load or misses it; a process's CPU seconds barely move with load, and a
    kernel's fastest sample is this machine's speed with a core free. Their ratio is the one
    that two runs under different load agree on (benchmarks/README.md)."""
    if cpu_seconds is None:
        return {}
    fastest: dict[str, float] = {}
    for calibration_round in rounds:
        for c in calibration_round.kernels:
            if c.seconds:
                fastest[c.kernel] = min(fastest.get(c.kernel, math.inf), *c.seconds)
    return {kernel: round(cpu_seconds / seconds, 1) for kernel, seconds in fastest.items()}


def svm_fit_summary(runs: list[Repeat]) -> SvmFitSummary | None:
    """The svm_fit rounds of every repeat: medians of the per-round ratios and of the seconds,
    the lowest accuracies, and whether every round's predictions were identical (None if the
    phase was skipped)."""
    rounds: list[SvmFitRound] = [x for r in runs for x in r.svm_fit]
    if not rounds:
        return None
    predict_ratios = [x.predict_ratio for x in rounds if x.predict_ratio is not None]

    def predict(side: str) -> float | None:
        found = [getattr(x, side).predict_seconds for x in rounds]
        return median([x for x in found if x is not None]) if None not in found else None

    return SvmFitSummary(
        model=rounds[0].model,
        today=rounds[0].today.estimator or "",
        pipeline=rounds[0].pipeline.estimator or "",
        rounds=len(rounds),
        fit_ratio=median([x.fit_ratio for x in rounds]),
        predict_ratio=median(predict_ratios) if predict_ratios else None,
        today_fit=median([x.today.seconds for x in rounds]),
        pipeline_fit=median([x.pipeline.seconds for x in rounds]),
        today_predict=predict("today"),
        pipeline_predict=predict("pipeline"),
        today_accuracy=min(x.today.accuracy.get("test", float("nan")) for x in rounds),
        pipeline_accuracy=min(x.pipeline.accuracy.get("test", float("nan")) for x in rounds),
        identical=all(x.identical for x in rounds),
    )


def svm_fit_target(svm: SvmFitSummary, limit: float) -> Target:
    """The pipeline's SVM fit over today's SVC fit, median of the per-round ratios."""
    return Target(
        "svm_fit_over_today",
        f"`train@{svm.model}` fit / today's SVC fit, same run (svm_fit, {svm.rounds} rounds)",
        svm.fit_ratio,
        limit,
        "x",
        svm.pipeline_fit,
        svm.fit_ratio,
        f"today's SVC fit ({svm.today_fit:.2f} s)",
    )


def svm_fit_checks(svm: SvmFitSummary, min_accuracy: float) -> dict[str, bool]:
    """The pipeline's SVM keeps its accuracy and today's predictions, in every round."""
    return {
        f"svm_fit: the pipeline's `{svm.model}` test accuracy >= {min_accuracy:g}, "
        "every round": svm.pipeline_accuracy >= min_accuracy,
        f"svm_fit: the pipeline's `{svm.model}` predicts as today's SVC, every round": (
            svm.identical
        ),
    }


def kernel_ratios(k: dict[str, KernelRun], bare_seconds: float) -> dict[str, float]:
    """The notebooks' methods over ours, ours over the bare product it needs."""
    if not k:
        return {}

    def extrapolated(name: str) -> float:
        return k[name].extrapolated_seconds or float("nan")

    ratios = {
        "notebook float64 1-NN / cosine_1nn, time (test split)": (
            k["notebook_float64_test"].seconds / k["cosine_1nn_test"].seconds
        ),
        "notebook float64 1-NN / cosine_1nn, peak RSS (test split)": (
            (k["notebook_float64_test"].peak_rss_mb or 0) / (k["cosine_1nn_test"].peak_rss_mb or 1)
        ),
        "cosine_1nn fit+predict / bare product (val+test, in process)": (
            k["cosine_1nn_val_test"].seconds / bare_seconds
        ),
        "article's per-sample MLP, NumPy, extrapolated / mini-batch MLP": (
            extrapolated("mlp_per_sample_numpy") / k["mlp_minibatch"].seconds
        ),
        "per-sample MLP, scikit-learn batch_size=1, extrapolated / mini-batch MLP": (
            extrapolated("mlp_per_sample_sklearn") / k["mlp_minibatch"].seconds
        ),
    }
    for features, ours in (
        ("normalize", "cosine_1nn_val_test"),
        ("pca", "cosine_1nn_pca_val_test"),
    ):
        for method in ("sklearn_cosine", "sklearn_euclidean_unit"):
            name = f"{method}_{features}_val_test"
            if name in k and ours in k:
                ratios[f"{name} / cosine_1nn ({features}, val+test)"] = (
                    k[name].seconds / k[ours].seconds
                )
    if "gd_4_fit" in k:
        ratios["gradient descent re-casting X every iteration, extrapolated / gd_4 fit"] = (
            extrapolated("gd_4_recast_per_iteration") / k["gd_4_fit"].seconds
        )
    return {name: round(value, 2) for name, value in ratios.items()}


def checks(results: Results, metrics: dict[str, Scores]) -> dict[str, bool]:
    """The notebooks' accuracies (params.yaml ``notebooks``) reproduced, the IDX notebook's
    gradient-descent loss, and the metrics the same bytes in every repeat."""
    out = {}
    for name, value in results.notebooks.items():
        tolerance = NOTEBOOK_TOLERANCE.get(name, 0.0)
        ours = metrics.get(name, Scores()).test
        label = (
            f"{name} within {tolerance} of {value}"
            if tolerance
            else f"{name} test accuracy == {value}"
        )
        out[label] = ours is not None and abs(ours - value) <= tolerance
    gd_loss = results.runs[0].cold.gd_4_loss_195
    if gd_loss is not None:
        out[f"gd_4 loss at iteration 195 within 1e-12 of {GD_NOTEBOOK_LOSS_195!r}"] = (
            abs(gd_loss - GD_NOTEBOOK_LOSS_195) <= 1e-12
        )
    out["metrics byte-identical across repeats"] = (
        len({r.cold.metrics_sha256 for r in results.runs}) == 1
    )
    return out


def summarise(results: Results) -> Summary:
    """Medians over the repeats, the targets judged, every timing's ratios: a timing's ratio to
    a reference kernel is to that kernel as timed around the phase it was measured in."""
    limits = results.limits
    calibration = {c.kernel: c.median for c in pooled(results.calibration)}
    references = phase_references(results.calibration)
    colds = [r.cold for r in results.runs]
    stages = stage_table([c.stages for c in colds])
    cold_seconds = median([c.wall for c in colds])
    noop = median([x for r in results.runs for x in r.noop_repro])
    status = median([x for r in results.runs for x in r.status])
    exp_pca40 = median([r.exp_pca40.wall for r in results.runs])
    pairs = [p for r in results.runs for p in r.nearest_vs_bare]
    nearest, bare = median([p.stage_wall for p in pairs]), median([p.bare_seconds for p in pairs])
    peak_stage = max(stages, key=lambda s: stages[s].peak_rss_mb)
    unit = f"`{COLD_REFERENCE}` around the cold run"

    def cold_target(key: str, label: str, seconds: Callable[[ColdRun], float]) -> Target:
        """A cold-run timing: its median seconds, and the median over the repeats of its ratio
        to ``COLD_REFERENCE`` timed around that repeat's cold run."""
        ratios = [
            seconds(r.cold) / references[Phase.of(r.index, Phase.COLD)][COLD_REFERENCE]
            for r in results.runs
        ]
        value = median([seconds(c) for c in colds])
        limit = limits["cold_repro_seconds"]
        return Target(key, label, value, limit, "s", value, median(ratios), unit)

    targets = []
    if colds[0].rest is not None:
        targets.append(
            cold_target(
                "cold_model_pipeline_seconds",
                f"cold `dvc repro evaluate` (download -> evaluate@*, "
                f"{len(colds[0].core.stages)} stages)",
                lambda c: c.core.wall,
            )
        )
    if results.separate_models:
        targets.append(
            cold_target(
                "cold_model_pipeline_without_separate_seconds",
                "the same without "
                + ", ".join(f"`{m}`" for m in results.separate_models)
                + " (estimate: less its stages and their share of dvc's overhead)",
                lambda c: without_models(c, results.separate_models),
            )
        )
    exp_share = median([r.exp_pca40.wall / r.cold.wall for r in results.runs])
    nearest_ratio = median([p.ratio for p in pairs])
    targets += [
        cold_target(
            "cold_repro_seconds", f"cold `dvc repro`, all {len(stages)} stages", lambda c: c.wall
        ),
        Target(
            "max_stage_peak_rss_mb",
            f"peak RSS of any stage ({peak_stage})",
            stages[peak_stage].peak_rss_mb,
            limits["max_stage_peak_rss_mb"],
            "MB",
        ),
        Target(
            "noop_repro_over_status",
            "no-op `dvc repro` / `dvc status`",
            round(noop / status, 3),
            limits["noop_repro_over_status"],
            "x",
            noop,
            round(noop / status, 3),
            f"`dvc status` ({status:.2f} s)",
        ),
        Target(
            "exp_pca40_share_of_cold",
            "`dvc exp run -S pca.n=40` / cold `dvc repro`",
            exp_share,
            limits["exp_pca40_share_of_cold"],
            "x",
            exp_pca40,
            exp_share,
            f"cold `dvc repro` ({cold_seconds:.1f} s)",
        ),
        Target(
            "nearest_stage_over_bare_matmul",
            "`evaluate@nearest` / bare float32 blocked product, paired runs",
            nearest_ratio,
            limits["nearest_stage_over_bare_matmul"],
            "x",
            nearest,
            nearest_ratio,
            f"bare product ({bare:.2f} s)",
        ),
    ]
    overheads = [stage_overhead(c) for c in colds]
    if all(o is not None for o in overheads):
        share = median([o / c.wall for o, c in zip(overheads, colds, strict=True)])
        targets.append(
            Target(
                "stage_overhead_share_of_cold",
                "stages' start-up (wall less own work, summed) / cold `dvc repro`",
                round(share, 3),
                limits.get("stage_overhead_share_of_cold", 0.15),
                "x",
                median(overheads),
                round(share, 3),
                f"cold `dvc repro` ({cold_seconds:.1f} s)",
            )
        )
    svm = svm_fit_summary(results.runs)
    found_checks = checks(results, colds[0].metrics)
    if svm is not None:
        targets.append(svm_fit_target(svm, limits["svm_fit_over_today"]))
        found_checks.update(svm_fit_checks(svm, limits["svm_min_test_accuracy"]))
    svm_exps = [r.exp_svm_c5 for r in results.runs if r.exp_svm_c5 is not None]
    cold_cpu = median([c.stage_cpu_total for c in colds]) if colds else None
    exp_cpu_shares = {
        "`dvc exp run -S pca.n=40`": [
            r.exp_pca40.stage_cpu_total / r.cold.stage_cpu_total for r in results.runs
        ],
        "`dvc exp run -S models.svm.C=5`": [
            r.exp_svm_c5.stage_cpu_total / r.cold.stage_cpu_total
            for r in results.runs
            if r.exp_svm_c5 is not None
        ],
    }
    timings = main_timings(results.runs)
    kernels = kernel_medians([r.kernels for r in results.runs])
    metrics = colds[-1].metrics
    return Summary(
        calibration=calibration,
        targets=targets,
        checks=found_checks,
        stages=stages,
        model_pipeline_stages=list(stage_table([c.core.stages for c in colds])),
        cold_seconds=cold_seconds,
        cold_stage_process_seconds=median([c.stage_process_total for c in colds]),
        cold_dvc_overhead_seconds=median([c.dvc_overhead for c in colds]),
        cold_stage_overhead_seconds=(
            median([o for o in overheads if o is not None]) if any(overheads) else None
        ),
        timings={name: t.seconds for name, t in timings.items()},
        in_reference_units={name: t.units(references) for name, t in timings.items()},
        exp_pca40_stages=results.runs[0].exp_pca40.ran,
        exp_svm_c5_stages=svm_exps[0].ran if svm_exps else [],
        kernels=kernels,
        ratios=kernel_ratios(kernels, bare),
        metrics=metrics,
        experiments={
            e.name: {model: e.metrics.get(model) for model in metrics} for e in results.experiments
        },
        references=references,
        kernel_units=kernel_units(results.runs, references),
        svm_fit=svm,
        cold_cpu_seconds=cold_cpu,
        cold_cpu_units=cold_cpu_units(cold_cpu, results.calibration),
        exp_cpu_shares={name: round(median(v), 3) for name, v in exp_cpu_shares.items() if v},
    )


# ---------------------------------------------------------------------------------------------
# Markdown


def _cell(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%"


def _samples(calibration_round: CalibrationRound, kernel: str, run_median: float) -> str:
    """A round's samples of ``kernel``, and their median over the run's median of the kernel."""
    found = [c for c in calibration_round.kernels if c.kernel == kernel]
    if not found or not found[0].seconds:
        return ""
    samples = ", ".join(f"{x:.3f}" for x in found[0].seconds)
    return f"{samples} ({statistics.median(found[0].seconds) / run_median:.2f})"


def calibration_lines(rounds: list[CalibrationRound]) -> list[str]:
    """The reference kernels: what each is and its median over the run, then every round with
    every sample, so that load coming and going during the run shows."""
    kernels = pooled(rounds)
    edges = max((max(len(c.seconds) for c in r.kernels) for r in rounds), default=0)
    lines = [
        "",
        "Calibration: fixed reference kernels, timed in a fresh interpreter at each boundary "
        f"between two phases of the run (up to {edges} samples per kernel at its start and "
        "end). Each timing's ratio to a kernel divides by that kernel as timed around the "
        "timing's phase (the mean of the rounds before and after it), not by the run's median.",
        "",
        "| reference kernel | median s over the run | slowest round / fastest |",
        "|---|---:|---:|",
    ]
    for c in kernels:
        medians = [x for r in rounds if (x := r.seconds(c.kernel)) is not None]
        lines.append(
            f"| `{c.kernel}`: {c.description} | {c.median:.3f} | "
            f"{max(medians) / min(medians):.2f} |"
        )
    lines += [
        "",
        "Every round: its samples, s, and (in brackets) their median over the run's median.",
        "",
        "| at s | after | before | load (1 min) | "
        + " | ".join(f"`{c.kernel}`" for c in kernels)
        + " |",
        "|---:|---|---|---:|" + "---|" * len(kernels),
    ]
    for r in rounds:
        cells = [_samples(r, c.kernel, c.median) for c in kernels]
        lines.append(
            f"| {r.at:.0f} | {r.after or 'start'} | {r.before or 'end'} | {r.load[0]:g} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def svm_fit_lines(runs: list[Repeat], svm: SvmFitSummary) -> list[str]:
    """The svm_fit phase: the two estimators, the median ratios, and every round."""
    predict = "" if svm.predict_ratio is None else f", predict {svm.predict_ratio:g}"
    lines = [
        f"svm_fit: `models.{svm.model}` fitted on its features' training split and predicting "
        "the test split, in a fresh interpreter each, the order alternating, "
        f"{svm.rounds} rounds: today's `{svm.today}` against the pipeline's `{svm.pipeline}`. "
        f"Pipeline / today, median of the per-round ratios: fit {svm.fit_ratio:g}{predict}; "
        f"lowest test accuracy {svm.today_accuracy:.4f} (today) and "
        f"{svm.pipeline_accuracy:.4f} (pipeline); predictions identical in every round: "
        f"{'yes' if svm.identical else '**no**'}.",
        "",
        "| repeat | round | first | fit s, today | fit s, pipeline | fit ratio | "
        "predict s, today | predict s, pipeline | predict ratio | test acc, today | "
        "test acc, pipeline | identical |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        for number, x in enumerate(r.svm_fit, start=1):
            a, b = x.today, x.pipeline
            lines.append(
                f"| {r.index} | {number} | {x.order[0]} | {a.seconds:.2f} | {b.seconds:.2f} | "
                f"{x.fit_ratio:g} | {_cell(a.predict_seconds)} | {_cell(b.predict_seconds)} | "
                f"{'' if x.predict_ratio is None else f'{x.predict_ratio:g}'} | "
                f"{_cell(a.accuracy.get('test'), 4)} | {_cell(b.accuracy.get('test'), 4)} | "
                f"{'yes' if x.identical else '**no**'} |"
            )
    return lines


def markdown(results: Results, s: Summary) -> str:
    """The report: machine and calibration, targets, where the cold run's time goes, the
    notebooks' methods against ours, the feature experiments, start-up costs."""
    m = results.machine
    lines = [
        f"Measured by `benchmarks/run.py --repeat {results.repeat}` on {m.cpu}, "
        f"{m.cores} cores, {m.ram_gib} GiB RAM; Python {m.python}, "
        + ", ".join(f"{k} {v}" for k, v in m.versions.items())
        + (f"; BLAS {m.blas}" if m.blas else "")
        + ". Medians of the repeats; load average (1, 5, 15 min) before: "
        f"{', '.join(map(str, results.load_before))}, after: "
        f"{', '.join(map(str, results.load_after))}.",
    ]
    lines += calibration_lines(results.calibration)
    lines += [
        "",
        "| target | s | ratio | ratio to | limit | met |",
        "|---|---:|---:|---|---:|---|",
    ]
    for t in s.targets:
        label = t.label if t.unit != "MB" else f"{t.label}: {t.value:g} MB"
        limit = f"{t.limit:g} {t.unit}" if t.unit != "x" else f"{t.limit:g}"
        lines.append(
            f"| {label} | {_cell(t.seconds)} | {'' if t.ratio is None else f'{t.ratio:.4g}'} | "
            f"{t.ratio_to} | {limit} | "
            f"{'yes' if t.met else '**no**'} |"
        )
    for check, ok in s.checks.items():
        lines.append(f"| {check} | | | | | {'yes' if ok else '**no**'} |")
    cv = [
        f"`{name}` {s.metrics[name].cv:.4f} (notebook {value})"
        for name, value in results.notebook_cv.items()
        if name in s.metrics and s.metrics[name].cv is not None
    ]
    if cv:
        lines += [
            "",
            "Cross-validated accuracy (params.yaml `notebook_cv`): " + ", ".join(cv) + ".",
        ]

    kernels = list(s.calibration)
    lines += [
        "",
        "The main timings in reference-kernel units, comparable between runs on different days "
        "or machines: in each repeat, seconds over the kernel timed around the phase they were "
        "measured in (the mean of the rounds before and after it); the median over the repeats.",
        "",
        "| timing | s | " + " | ".join(f"/ `{k}`" for k in kernels) + " |",
        "|---|---:|" + "---:|" * len(kernels),
    ]
    for name, units in s.in_reference_units.items():
        cells = " | ".join(f"{units[k]:g}" for k in kernels)
        lines.append(f"| {name} | {s.timings[name]:.2f} | {cells} |")
    if s.cold_cpu_units and s.cold_cpu_seconds is not None:
        units = ", ".join(f"{v:g} `{k}`" for k, v in s.cold_cpu_units.items())
        lines += [
            "",
            f"The cold run's cost under any load: its stages' CPU seconds, summed, "
            f"{s.cold_cpu_seconds:.1f} s = {units} (each kernel's fastest sample of the run)."
            + "".join(f" {name}: {share:g} of it." for name, share in s.exp_cpu_shares.items()),
        ]

    lines += [""]
    overhead = s.cold_stage_overhead_seconds
    lines.append(
        f"Cold run, {s.cold_seconds:.1f} s: {s.cold_stage_process_seconds:.1f} s in the stages' "
        "processes"
        + (
            f", of which {overhead:.1f} s ({_percent(overhead, s.cold_seconds)} of the run) "
            "outside their work (start-up, imports, arguments, exit)"
            if overhead is not None
            else ""
        )
        + f"; {s.cold_dvc_overhead_seconds:.1f} s "
        f"({_percent(s.cold_dvc_overhead_seconds, s.cold_seconds)}) in dvc itself "
        "(start-up, hashing, caching, dvc.lock, git)."
    )
    lines += [
        "",
        "| stage | wall s | work s | overhead s | CPU s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage, v in s.stages.items():
        lines.append(
            f"| `{stage}` | {v.wall:.2f} | {_cell(v.work)} | {_cell(v.overhead)} | "
            f"{v.cpu:.2f} | {v.peak_rss_mb:.0f} |"
        )
    profile = results.runs[0].import_profile
    if profile is not None:
        lines += [
            "",
            f"`python -X importtime {profile.command[3]} ...`, the command of `{profile.stage}` "
            f"(the stage with the most overhead in the first repeat): {profile.total:.2f} s of "
            "imports, at start-up and in its work; the largest: "
            + ", ".join(f"{c.module} {c.cumulative:.2f} s" for c in profile.top)
            + ".",
        ]
    lines += [
        "",
        f"`dvc exp run -S pca.n=40` reran {len(s.exp_pca40_stages)} stages: "
        + ", ".join(f"`{x}`" for x in s.exp_pca40_stages)
        + ".",
    ]
    if s.svm_fit is not None:
        lines += ["", *svm_fit_lines(results.runs, s.svm_fit)]
    svm_exp = s.timings.get("`dvc exp run -S models.svm.C=5`")
    if svm_exp is not None:
        lines += [
            "",
            f"`dvc exp run -S models.svm.C=5` took {svm_exp:.1f} s, "
            f"{svm_exp / s.cold_seconds:.2f} of the cold run, and reran "
            + ", ".join(f"`{x}`" for x in s.exp_svm_c5_stages)
            + ".",
        ]
    if s.kernels:
        lines += [
            "",
            "| method (same data, fresh interpreter) | s | ratio | ratio to | peak RSS MB | note |",
            "|---|---:|---:|---|---:|---|",
        ]
        for name, k in s.kernels.items():
            note = ", ".join(f"{split} {a:.4f}" for split, a in k.accuracy.items())
            if k.extrapolated_seconds is not None:
                note = (
                    f"{k.samples:,} updates timed, **extrapolated** to {k.extrapolated_to:,}: "
                    f"{k.extrapolated_seconds:.0f} s"
                )
            reference = KERNEL_REFERENCE.get(name, "gemm")
            lines.append(
                f"| `{name}` | {k.seconds:.2f} | "
                f"{_cell(s.kernel_units.get(name), 1)} | `{reference}` | "
                f"{_cell(k.peak_rss_mb, 0)} | {note} |"
            )
        lines += ["", "| ratio | value |", "|---|---:|"]
        lines += [f"| {name} | {value:g}x |" for name, value in s.ratios.items()]
    if results.experiments:
        lines.append("")
        for e in results.experiments:
            normalize = e.run.stages.get("normalize")
            lines.append(
                f"`dvc exp run -S {' -S '.join(e.settings)}` ({e.name}): {e.run.wall:.1f} s "
                f"({e.run.wall / s.cold_seconds:.2f} of the cold run)"
                + ("." if normalize is None else f", normalize stage {normalize.wall:.2f} s.")
            )
        names = [e.name for e in results.experiments]
        lines += [
            "",
            "| model | val | test | "
            + " | ".join(f"val, {n} | test, {n} | test change, pp" for n in names)
            + " |",
            "|---|---:|---:|" + "---:|---:|---:|" * len(names),
        ]
        for model, a in s.metrics.items():
            if a.test is None:
                continue
            cells = [f"`{model}`", _cell(a.val, 4), _cell(a.test, 4)]
            for n in names:
                b = s.experiments[n].get(model) or Scores()
                change = None if b.test is None else 100 * (b.test - a.test)
                cells += [
                    _cell(b.val, 4),
                    _cell(b.test, 4),
                    "" if change is None else f"{change:+.2f}",
                ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Start-up of a fresh interpreter and imports (best of 3, s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in results.startup.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"
