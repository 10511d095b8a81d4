"""From a benchmark run's records to its conclusions: medians over the repeats, the targets
judged against their limits, every timing as raw seconds and as a ratio (to a part of the
pipeline measured beside it, or to the run's reference kernels), and the Markdown report."""

from __future__ import annotations

from bench.records import (
    ColdRun,
    KernelRun,
    Results,
    Scores,
    StageRun,
    StageSummary,
    Summary,
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


def ratio(seconds: float, reference: float | None) -> float | None:
    return round(seconds / reference, 3) if reference else None


def summarise(results: Results) -> Summary:
    """Medians over the repeats, the targets judged, every timing's ratios."""
    limits = results.limits
    calibration = {c.kernel: c.median for c in results.calibration}
    cold_unit = calibration.get(COLD_REFERENCE)
    colds = [r.cold for r in results.runs]
    stages = stage_table([c.stages for c in colds])
    cold_seconds = median([c.wall for c in colds])
    core_seconds = median([c.core.wall for c in colds])
    noop = median([x for r in results.runs for x in r.noop_repro])
    status = median([x for r in results.runs for x in r.status])
    exp_pca40 = median([r.exp_pca40.wall for r in results.runs])
    pairs = [p for r in results.runs for p in r.nearest_vs_bare]
    nearest, bare = median([p.stage_wall for p in pairs]), median([p.bare_seconds for p in pairs])
    peak_stage = max(stages, key=lambda s: stages[s].peak_rss_mb)
    unit = f"`{COLD_REFERENCE}`"

    def cold_target(key: str, label: str, seconds: float) -> Target:
        limit = limits["cold_repro_seconds"]
        return Target(key, label, seconds, limit, "s", seconds, ratio(seconds, cold_unit), unit)

    targets = []
    if colds[0].rest is not None:
        targets.append(
            cold_target(
                "cold_model_pipeline_seconds",
                f"cold `dvc repro evaluate` (download -> evaluate@*, "
                f"{len(colds[0].core.stages)} stages)",
                core_seconds,
            )
        )
    if results.separate_models:
        targets.append(
            cold_target(
                "cold_model_pipeline_without_separate_seconds",
                "the same without "
                + ", ".join(f"`{m}`" for m in results.separate_models)
                + " (estimate: less its stages and their share of dvc's overhead)",
                median([without_models(c, results.separate_models) for c in colds]),
            )
        )
    exp_share = median([r.exp_pca40.wall / r.cold.wall for r in results.runs])
    nearest_ratio = median([p.ratio for p in pairs])
    targets += [
        cold_target(
            "cold_repro_seconds", f"cold `dvc repro`, all {len(stages)} stages", cold_seconds
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
    svm_exps = [r.exp_svm_c5 for r in results.runs if r.exp_svm_c5 is not None]
    svm_fits = [c.stages["train@svm"].wall for c in colds if "train@svm" in c.stages]
    timings = {
        "cold `dvc repro`": cold_seconds,
        "cold `dvc repro evaluate`": core_seconds,
        "the stages' work, summed (cold run)": median(
            [sum(s.work for s in c.stages.values() if s.work is not None) for c in colds]
        ),
        "no-op `dvc repro`": noop,
        "`dvc status`": status,
        "`dvc exp run -S pca.n=40`": exp_pca40,
        **(
            {"`dvc exp run -S models.svm.C=5`": median([e.wall for e in svm_exps])}
            if svm_exps
            else {}
        ),
        **({"`train@svm` (cold run)": median(svm_fits)} if svm_fits else {}),
        "`evaluate@nearest`": nearest,
        "bare float32 blocked product": bare,
    }
    kernels = kernel_medians([r.kernels for r in results.runs])
    metrics = colds[-1].metrics
    return Summary(
        calibration=calibration,
        targets=targets,
        checks=checks(results, colds[0].metrics),
        stages=stages,
        model_pipeline_stages=list(stage_table([c.core.stages for c in colds])),
        cold_seconds=cold_seconds,
        cold_stage_process_seconds=median([c.stage_process_total for c in colds]),
        cold_dvc_overhead_seconds=median([c.dvc_overhead for c in colds]),
        cold_stage_overhead_seconds=(
            median([o for o in overheads if o is not None]) if any(overheads) else None
        ),
        timings=timings,
        in_reference_units={
            name: {kernel: round(seconds / ref, 1) for kernel, ref in calibration.items()}
            for name, seconds in timings.items()
        },
        exp_pca40_stages=results.runs[0].exp_pca40.ran,
        exp_svm_c5_stages=svm_exps[0].ran if svm_exps else [],
        kernels=kernels,
        ratios=kernel_ratios(kernels, bare),
        metrics=metrics,
        experiments={
            e.name: {model: e.metrics.get(model) for model in metrics} for e in results.experiments
        },
    )


# ---------------------------------------------------------------------------------------------
# Markdown


def _cell(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%"


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
        "",
        "Calibration: fixed reference kernels timed in a fresh interpreter at the start and the "
        "end of the run (the ratios below divide by the medians).",
        "",
        "| reference kernel | median s | every sample, s |",
        "|---|---:|---|",
    ]
    for c in results.calibration:
        samples = ", ".join(f"{x:.3f}" for x in c.seconds)
        lines.append(f"| `{c.kernel}`: {c.description} | {c.median:.3f} | {samples} |")
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
        "The main timings in reference-kernel units (seconds / the kernel's median), "
        "comparable between runs on different days or machines:",
        "",
        "| timing | s | " + " | ".join(f"/ `{k}`" for k in kernels) + " |",
        "|---|---:|" + "---:|" * len(kernels),
    ]
    for name, units in s.in_reference_units.items():
        cells = " | ".join(f"{units[k]:g}" for k in kernels)
        lines.append(f"| {name} | {s.timings[name]:.2f} | {cells} |")

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
                f"{_cell(ratio(k.seconds, s.calibration.get(reference)), 1)} | `{reference}` | "
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
