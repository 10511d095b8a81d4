"""benchmarks/: the command, the harness's wrapper and logs, the kernels, the records and the
report (no timing is asserted: the benchmark itself reports numbers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from bench import harness, kernels
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
from bench.report import (
    cold_cpu_units,
    kernel_units,
    markdown,
    phase_reference,
    pooled,
    summarise,
)
from conftest import REPO

from mnist_pipeline.plumbing.params import load_params
from mnist_pipeline.plumbing.runner import run_stage

SCRIPT = REPO / "benchmarks" / "run.py"


def test_help_describes_the_options():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for option in (
        "--repeat",
        "--out",
        "--markdown",
        "--core-target",
        "--skip-deskew",
        "--skip-svm-fit",
        "--svm-rounds",
    ):
        assert option in result.stdout


def test_wrapper_runs_the_real_python_and_logs_its_own_resource_use(tmp_path: Path):
    folder = harness.write_wrapper(tmp_path / "wrapper")
    log = tmp_path / "stages.jsonl"
    env = {**os.environ, "BENCH_STAGE_LOG": str(log)}
    code = "import sys; block = bytearray(300 * 2**20); print(sys.argv[1:]); sys.exit(3)"
    result = subprocess.run(
        [str(folder / "python"), "-c", code, "--model", "knn"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 3
    assert result.stdout.strip() == "['--model', 'knn']"
    record = json.loads(log.read_text())
    assert record["exit"] == 3 and record["argv"][-2:] == ["--model", "knn"]
    assert record["maxrss_kb"] > 300 * 1024  # the child's 300 MB, not the wrapper's few
    assert record["wall"] > 0 and record["cpu"] >= 0


def test_stage_names_follow_dvc():
    evaluate = ["src/evaluate.py", "--params", "p", "--model", "knn"]
    pca_deskewed = ["src/pca.py", "--section", "pca_deskewed", "--in", "stages/x"]
    assert harness.stage_name(evaluate) == "evaluate@knn"
    assert harness.stage_name(["src/pca.py", "--params", "params.yaml"]) == "pca"
    assert harness.stage_name(pca_deskewed) == "pca_deskewed"


def test_the_copy_leaves_out_metrics_and_plots_and_is_a_git_repository(tmp_path: Path):
    copy = harness.benchmark_copy(tmp_path / "copy")
    assert (copy / "dvc.yaml").is_file() and (copy / "data" / "mnist").is_dir()
    assert (copy / "benchmarks" / "run.py").is_file()
    assert not any((copy / name).exists() for name in ("metrics", "plots", "stages"))
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def test_a_stage_appends_its_work_seconds_to_bench_work_log(tmp_path, monkeypatch):
    log = tmp_path / "work.jsonl"
    monkeypatch.setenv("BENCH_WORK_LOG", str(log))
    assert run_stage("demo", lambda: None, (), outputs=()) == 0
    assert run_stage("demo", lambda: None, (), outputs=()) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["name"] for r in records] == ["demo", "demo"]
    assert records[0]["argv"] == sys.argv and records[0]["work"] >= 0


def test_a_stage_logs_nothing_without_bench_work_log(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_WORK_LOG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_stage("demo", lambda: None, (), outputs=()) == 0
    assert list(tmp_path.iterdir()) == []


def test_exit_stage_freezes_the_garbage_collector_and_keeps_the_exit_code_and_atexit():
    code = (
        "import atexit, gc, sys; from mnist_pipeline.plumbing.runner import exit_stage; "
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); "
        "sys.stdout.write('buffered '); exit_stage(3)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert (result.returncode, result.stdout) == (3, "buffered frozen True\n"), result.stderr


def test_every_stage_script_of_dvc_yaml_ends_with_exit_stage():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    scripts = {spec.get("do", spec)["cmd"].split()[1] for spec in stages.values()}
    assert scripts and all(name.startswith("src/") for name in scripts)
    for name in sorted(scripts):
        source = (REPO / name).read_text()
        assert 'if __name__ == "__main__":\n    exit_stage(main())\n' in source, name


def test_stage_records_join_the_wrappers_figures_with_the_stages_work(tmp_path: Path):
    argv = ["src/train.py", "--params", "params.yaml", "--model", "svm"]
    stage_log, work_log = tmp_path / "stages.jsonl", tmp_path / "work.jsonl"
    wrapper = {"argv": argv, "wall": 7.5, "cpu": 7.0, "maxrss_kb": 2048 * 100, "exit": 0}
    stage_log.write_text(json.dumps(wrapper) + "\n")
    work_log.write_text(json.dumps({"argv": argv, "name": "train", "work": 6.25}) + "\n")
    stages = harness.read_stage_logs(stage_log, work_log)
    assert list(stages) == ["train@svm"]
    assert stages["train@svm"].peak_rss_mb == 200.0
    assert stages["train@svm"].work == 6.25 and stages["train@svm"].overhead == 1.25


def test_a_stage_that_logged_no_work_has_no_overhead(tmp_path: Path):
    wrapper = {"argv": ["src/pca.py"], "wall": 1.0, "cpu": 1.0, "maxrss_kb": 1024, "exit": 0}
    (tmp_path / "stages.jsonl").write_text(json.dumps(wrapper) + "\n")
    stages = harness.read_stage_logs(tmp_path / "stages.jsonl", tmp_path / "absent.jsonl")
    assert stages["pca"].work is None and stages["pca"].overhead is None


@pytest.mark.parametrize(
    ("kernel", "size"), [(kernels.gemm, 64), (kernels.python_loop, 1000), (kernels.svc_fit, 200)]
)
def test_reference_kernels_return_positive_seconds(kernel, size):
    assert kernel(size) > 0


def test_the_calibrate_command_prints_every_reference_kernel(tmp_path: Path):
    command = [sys.executable, "-m", "bench.kernels", "calibrate", "1"]
    result = subprocess.run(
        command, cwd=tmp_path, env=harness.kernel_env(None), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    records = [Calibration(**c) for c in json.loads(result.stdout)]
    assert [c.kernel for c in records] == list(kernels.REFERENCES)
    assert all(len(c.seconds) == 1 and c.seconds[0] > 0 for c in records)


def test_a_kernel_runs_in_a_fresh_interpreter_on_the_copys_data(tmp_path: Path):
    rng = np.random.default_rng(0)
    features = tmp_path / "stages" / "normalize"
    features.mkdir(parents=True)
    for split, rows in (("train", 20), ("val", 5), ("test", 5)):
        x = rng.random((rows, 784), dtype=np.float32)
        np.savez(features / f"{split}.npz", X=x, y=np.arange(rows) % 10)
    result = harness.measure_kernel(tmp_path, "bare_matmul", 4)
    assert result.seconds > 0 and result.peak_rss_mb > 0 and result.process_wall > 0


def calibration_round(after: str | None, before: str | None, **seconds: list[float]):
    kernels = [Calibration(name, name, list(values)) for name, values in seconds.items()]
    return CalibrationRound(after, before, 0.0, [0.1, 0.2, 0.3], kernels)


def test_the_rounds_of_a_run_are_pooled_per_kernel():
    first = calibration_round(None, "a", gemm=[0.5, 0.6], loop=[0.4])
    second = calibration_round("a", None, gemm=[0.7], loop=[0.3])
    merged = pooled([first, second])
    assert [(c.kernel, c.seconds) for c in merged] == [
        ("gemm", [0.5, 0.6, 0.7]),
        ("loop", [0.4, 0.3]),
    ]
    assert merged[0].median == 0.6 and first.kernels[0].seconds == [0.5, 0.6]


def test_a_phase_is_divided_by_the_mean_of_the_rounds_on_either_side():
    rounds = [
        calibration_round(None, "cold", svc_fit=[0.4, 0.5, 0.9]),
        calibration_round("cold", "dvc", svc_fit=[0.7]),
        calibration_round("dvc", None, svc_fit=[2.0, 2.0, 2.0]),
    ]
    assert phase_reference(rounds, "cold") == {"svc_fit": 0.6}  # (median 0.5 + 0.7) / 2
    assert phase_reference(rounds, "dvc") == {"svc_fit": 1.35}
    with pytest.raises(ValueError, match=r"no calibration round next to phase 'exp'.*cold, dvc"):
        phase_reference(rounds, "exp")


def test_the_clock_times_a_round_at_each_boundary_between_phases(monkeypatch):
    sizes = []

    def fake_calibrate(rounds: int) -> list[Calibration]:
        sizes.append(rounds)
        return [Calibration("gemm", "product", [0.5] * rounds)]

    monkeypatch.setattr(harness, "calibrate", fake_calibrate)
    clock = harness.Clock()
    for phase in ("cold", "dvc", None):
        clock.boundary(phase)
    assert [(r.after, r.before) for r in clock.rounds] == [
        (None, "cold"),
        ("cold", "dvc"),
        ("dvc", None),
    ]
    assert sizes == [
        harness.CALIBRATION_ROUNDS,
        harness.BOUNDARY_ROUNDS,
        harness.CALIBRATION_ROUNDS,
    ]
    assert all(len(r.load) == 3 and r.at >= 0 for r in clock.rounds)


def test_importtime_output_gives_the_total_and_the_outermost_imports():
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:      1000 |       1000 |     _abc\n"
        "import time:      2000 |       3000 |   abc\n"
        "import time:    400000 |     900000 |     numpy.core\n"
        "import time:    100000 |    1000000 |   numpy\n"
        "usage: train.py [-h]\n"
    )
    total, top = harness.parse_importtime(stderr, top=1)
    assert total == 0.503
    assert top == [ImportCost("numpy", 1.0)]


# ---------------------------------------------------------------------------------------------
# A fixed record of two repeats, and what the report makes of it


def stage(wall: float, work: float | None = None, argv: list[str] | None = None) -> StageRun:
    return StageRun(argv or ["src/x.py"], wall, wall, 100.0, 0, work)


def dvc_run(wall: float, stages: dict[str, StageRun]) -> DvcRun:
    return DvcRun(["repro"], wall, stages, list(stages), [0.1, 0.2, 0.3], [0.1, 0.2, 0.3])


METRICS = {
    "nearest": Scores(val=0.9748, test=0.9708),
    "nearest_pca": Scores(val=0.9748, test=0.9703),
    "mlp": Scores(val=0.97, test=0.9709),
    "sgd_5": Scores(val=0.96, test=0.96, cv=0.9729),
}


def mnist_references(repo_params: dict) -> dict[str, float]:
    """The notebooks' test accuracies: params.yaml's MNIST references."""
    return repo_params["datasets"]["mnist"]["references"]["test"]


def svm_round(order: list[str], today_fit: float, pipeline_fit: float) -> SvmFitRound:
    today = KernelRun(
        seconds=today_fit,
        predict_seconds=4.0,
        accuracy={"test": 0.9905},
        predictions_sha256="same",
        estimator="SVC(C=10)",
    )
    pipeline = replace(today, seconds=pipeline_fit, predict_seconds=1.0, estimator="svc: SVC(C=10)")
    return SvmFitRound("svm", order, today, pipeline)


SVM_FIT = [svm_round(["today", "pipeline"], 8.0, 4.0), svm_round(["pipeline", "today"], 10.0, 4.0)]
PHASES = (Phase.COLD, Phase.DVC, Phase.SVM_FIT, Phase.EXP_RUNS)


def run_rounds(repeats: int, slower: dict[int, float] | None = None) -> list[CalibrationRound]:
    """One round before each phase of each repeat and one at the end: gemm and svc_fit 0.5 s
    (svc_fit's first round 0.5, 0.25, 0.75), ``slower[i]`` times that around repeat i's
    phases."""
    phases = [(i, Phase.of(i, p)) for i in range(1, repeats + 1) for p in PHASES]
    rounds, after = [], None
    for number, (index, phase) in enumerate([*phases, (repeats, None)]):
        factor = (slower or {}).get(index, 1.0)
        svc = [0.5, 0.25, 0.75] if number == 0 else [0.5]
        rounds.append(
            CalibrationRound(
                after,
                phase,
                float(number),
                [0.1, 0.2, 0.3],
                [
                    Calibration("gemm", "product", [0.5 * factor]),
                    Calibration("svc_fit", "SVC", [x * factor for x in svc]),
                ],
            )
        )
        after = phase
    return rounds


def fixed_results(notebooks: dict[str, float], gd_4_loss_195: float | None = None) -> Results:
    core = dvc_run(
        45.0,
        {
            "pca": stage(1.0, 0.25),
            "evaluate@nearest": stage(1.0, 0.5),
            "train@svm_99": stage(6.0, 5.5),
        },
    )
    cold = ColdRun(
        core=core,
        rest=dvc_run(5.0, {"figures": stage(1.0, 0.75)}),
        metrics=METRICS,
        metrics_sha256="x",
        gd_4_loss_195=gd_4_loss_195,
    )
    repeat = Repeat(
        index=1,
        cold=cold,
        noop_repro=[1.0, 1.2],
        status=[0.9, 1.0],
        nearest_vs_bare=[NearestPair(10.0, 400.0, 8.0)],
        kernels={},
        exp_pca40=dvc_run(15.0, {"pca": stage(1.0)}),
        import_profile=ImportProfile(
            "train@svm_99",
            ["python", "-X", "importtime", "src/train.py"],
            0.8,
            [ImportCost("sklearn", 0.7)],
        ),
        svm_fit=SVM_FIT,
    )
    experiment = Experiment(
        "deskew",
        ["normalize.deskew=true"],
        dvc_run(40.0, {"normalize": stage(1.5)}),
        {k: Scores(val=v.val + 0.01, test=v.test + 0.01) for k, v in METRICS.items()},
    )
    return Results(
        repeat=2,
        started="2026-01-01T00:00:00+0000",
        machine=Machine("cpu", 2, 23.5, "3.11", "linux", {"numpy": "2"}, ""),
        limits=dict(harness.LIMITS),
        notebooks=notebooks,
        notebook_cv={"sgd_5": 0.96},
        load_before=[0.1, 0.2, 0.3],
        load_after=[0.1, 0.2, 0.3],
        calibration=run_rounds(2),
        startup={"numpy": 0.1},
        runs=[repeat, replace(repeat, index=2)],
        experiments=[experiment],
        separate_models=["svm_99"],
    )


@pytest.fixture
def results(repo_params: dict) -> Results:
    return fixed_results(mnist_references(repo_params))


def target(summary, key: str):
    return next(t for t in summary.targets if t.key == key)


def test_summary_judges_each_target_on_medians(results: Results):
    summary = summarise(results)
    cold = target(summary, "cold_repro_seconds")
    assert (cold.value, cold.limit, cold.met) == (50.0, 60.0, True)
    assert target(summary, "cold_model_pipeline_seconds").value == 45.0
    # 45 s less train@svm_99's 6 s and a third of dvc's 37 s (three stages in the run)
    separate = target(summary, "cold_model_pipeline_without_separate_seconds")
    assert separate.value == pytest.approx(45.0 - 6.0 - 37.0 / 3, abs=1e-3)
    assert target(summary, "noop_repro_over_status").value == pytest.approx(1.1 / 0.95, abs=1e-3)
    assert target(summary, "exp_pca40_share_of_cold").value == 0.3
    nearest = target(summary, "nearest_stage_over_bare_matmul")
    assert (nearest.value, nearest.met) == (1.25, True)
    assert all(summary.checks.values())


def test_every_timing_target_has_its_raw_seconds_and_a_ratio(results: Results):
    summary = summarise(results)
    cold = target(summary, "cold_repro_seconds")
    assert (cold.seconds, cold.ratio) == (50.0, 100.0)
    assert cold.ratio_to == "`svc_fit` around the cold run"
    nearest = target(summary, "nearest_stage_over_bare_matmul")
    assert (nearest.seconds, nearest.ratio) == (10.0, 1.25)
    timed = [t for t in summary.targets if t.unit != "MB"]
    assert all(t.seconds is not None and t.ratio is not None for t in timed)


def test_main_timings_are_given_in_each_reference_kernels_units(results: Results):
    summary = summarise(results)
    assert summary.calibration == {"gemm": 0.5, "svc_fit": 0.5}
    assert summary.in_reference_units["cold `dvc repro`"] == {"gemm": 100.0, "svc_fit": 100.0}
    assert summary.timings["the stages' work, summed (cold run)"] == 7.0


def test_stage_overheads_are_wall_less_work_summed_over_the_cold_run(results: Results):
    summary = summarise(results)
    assert summary.stages["pca"].overhead == 0.75
    assert summary.cold_stage_overhead_seconds == 2.0
    assert summary.cold_dvc_overhead_seconds == 41.0


def test_notebook_checks_follow_params_notebooks(repo_params: dict):
    summary = summarise(fixed_results({**mnist_references(repo_params), "nearest": 0.9}))
    assert summary.checks["nearest test accuracy == 0.9"] is False
    assert summary.checks[
        f"nearest_pca test accuracy == {mnist_references(repo_params)['nearest_pca']}"
    ]


@pytest.mark.parametrize(("loss", "met"), [(0.06895031073787412, True), (0.06895031074, False)])
def test_gradient_descent_loss_at_195_is_checked_against_the_notebook(repo_params, loss, met):
    checks = summarise(fixed_results(mnist_references(repo_params), gd_4_loss_195=loss)).checks
    assert checks["gd_4 loss at iteration 195 within 1e-12 of 0.06895031073787411"] is met


def test_markdown_report_shows_calibration_targets_with_ratios_stages_and_experiments(
    results: Results,
):
    report = markdown(results, summarise(results))
    assert "| `svc_fit`: SVC | 0.500 | 1.00 |" in report
    assert (
        "| 0 | start | repeat 1: cold dvc repro | 0.1 | 0.500 (1.00) | 0.500, 0.250, 0.750 (1.00) |"
        in report
    )
    assert "| 8 | repeat 2: dvc exp run | end | 0.1 | 0.500 (1.00) | 0.500 (1.00) |" in report
    assert "| target | s | ratio | ratio to | limit | met |" in report
    assert (
        "| cold `dvc repro`, all 4 stages | 50.00 | 100 | `svc_fit` around the cold run | 60 s "
        "| yes |" in report
    )
    assert "| `figures` | 1.00 | 0.75 | 0.25 | 1.00 | 100 |" in report
    assert "| cold `dvc repro` | 50.00 | 100 | 100 |" in report
    assert "| `mlp` | 0.9700 | 0.9709 | 0.9800 | 0.9809 | +1.00 |" in report
    assert "`sgd_5` 0.9729 (notebook 0.96)" in report
    assert "`python -X importtime src/train.py ...`, the command of `train@svm_99`" in report
    assert "sklearn 0.70 s" in report
    assert "**no**" not in report


def test_results_and_summary_are_written_as_json(results: Results):
    record = json.loads(json.dumps({**asdict(results), "summary": asdict(summarise(results))}))
    assert record["runs"][0]["cold"]["core"]["stages"]["pca"]["work"] == 0.25
    assert record["summary"]["targets"][0]["key"] == "cold_model_pipeline_seconds"
    assert record["calibration"][0]["before"] == "repeat 1: cold dvc repro"
    assert record["runs"][0]["svm_fit"][1]["order"] == ["pipeline", "today"]
    assert record["summary"]["svm_fit"]["fit_ratio"] == 0.45
    assert record["summary"]["references"]["repeat 2: svm_fit"] == {"gemm": 0.5, "svc_fit": 0.5}
    assert KernelRun(**asdict(KernelRun(seconds=1.0))) == KernelRun(seconds=1.0)


# ---------------------------------------------------------------------------------------------
# Kernels timed between phases: a repeat under more load is divided by slower kernels


def test_a_repeat_under_twice_the_load_gives_the_same_ratios_to_the_kernels(results: Results):
    slow = results.runs[1]
    cold = replace(
        slow.cold,
        core=dvc_run(90.0, slow.cold.core.stages),
        rest=dvc_run(10.0, slow.cold.rest.stages),
    )
    loaded = replace(
        results,
        calibration=run_rounds(2, slower={2: 2.0}),
        runs=[results.runs[0], replace(slow, cold=cold)],
    )
    summary = summarise(loaded)
    target_cold = target(summary, "cold_repro_seconds")
    assert (target_cold.seconds, target_cold.ratio) == (75.0, 100.0)  # 50 / 0.5 and 100 / 1.0
    assert summary.references["repeat 2: cold dvc repro"] == {"gemm": 1.0, "svc_fit": 1.0}
    assert summary.in_reference_units["cold `dvc repro`"] == {"gemm": 100.0, "svc_fit": 100.0}


def test_micro_benchmarks_are_divided_by_the_kernels_around_the_notebook_phase(results):
    kernels = {"cosine_1nn_test": KernelRun(2.0), "mlp_per_sample_numpy": KernelRun(1.0)}
    runs = [replace(results.runs[0], kernels=kernels)]
    references = {"repeat 1: notebook methods": {"gemm": 0.5, "python_loop": 0.25}}
    assert kernel_units(runs, references) == {"cosine_1nn_test": 4.0, "mlp_per_sample_numpy": 4.0}


# ---------------------------------------------------------------------------------------------
# svm_fit: today's SVC against the pipeline's estimator


def test_svm_fit_is_a_target_of_the_median_per_round_fit_ratio(results: Results):
    summary = summarise(results)
    svm = target(summary, "svm_fit_over_today")
    assert (svm.value, svm.limit, svm.met) == (0.45, 0.5, True)  # rounds 4/8 and 4/10
    assert (svm.seconds, svm.ratio_to) == (4.0, "today's SVC fit (9.00 s)")
    assert summary.svm_fit.predict_ratio == 0.25
    assert summary.checks["svm_fit: the pipeline's `svm` test accuracy >= 0.99, every round"]
    assert summary.checks["svm_fit: the pipeline's `svm` predicts as today's SVC, every round"]
    assert summary.in_reference_units["svm_fit: today's SVC fit"]["svc_fit"] == 18.0


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"predictions_sha256": "other"}, "predicts as today's SVC"),
        ({"accuracy": {"test": 0.985}}, "test accuracy >= 0.99"),
    ],
)
def test_svm_fit_checks_fail_on_other_predictions_or_low_accuracy(results, change, failed):
    worse = SVM_FIT[0].pipeline
    bad = replace(SVM_FIT[0], pipeline=replace(worse, **change))
    runs = [replace(results.runs[0], svm_fit=[bad, SVM_FIT[1]]), results.runs[1]]
    checks = summarise(replace(results, runs=runs)).checks
    assert [name for name, ok in checks.items() if not ok] == [
        next(name for name in checks if failed in name)
    ]


def test_markdown_report_shows_every_svm_fit_round(results: Results):
    report = markdown(results, summarise(results))
    assert (
        "today's `SVC(C=10)` against the pipeline's `svc: SVC(C=10)`. Pipeline / today, median "
        "of the per-round ratios: fit 0.45, predict 0.25;" in report
    )
    assert (
        "| 1 | 2 | pipeline | 10.00 | 4.00 | 0.4 | 4.00 | 1.00 | 0.25 | 0.9905 | 0.9905 | yes |"
        in report
    )
    assert (
        "| `train@svm` fit / today's SVC fit, same run (svm_fit, 4 rounds) | 4.00 | 0.45 | "
        "today's SVC fit (9.00 s) | 0.5 | yes |" in report
    )


def test_a_skipped_svm_fit_phase_has_no_target_and_no_checks(results: Results):
    runs = [replace(r, svm_fit=[]) for r in results.runs]
    summary = summarise(replace(results, runs=runs))
    assert summary.svm_fit is None
    assert "svm_fit_over_today" not in [t.key for t in summary.targets]
    assert not [name for name in summary.checks if name.startswith("svm_fit")]
    assert "svm_fit: today's SVC fit" not in summary.timings
    assert "svm_fit:" not in markdown(replace(results, runs=runs), summary)


@pytest.fixture
def tiny_copy(tmp_path: Path) -> Path:
    """A copy with the repository's params.yaml, datasets.yaml and src/, and 60 training and
    20 test rows of five well-separated classes as models.svm's features."""
    for name in ("params.yaml", "datasets.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "src").symlink_to(REPO / "src")
    features = load_params(tmp_path / "params.yaml").model("svm").features
    folder = tmp_path / "stages" / features
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    centres = 10.0 * rng.standard_normal((5, 8))
    for split, rows in (("train", 60), ("test", 20)):
        y = np.arange(rows) % 5
        x = (centres[y] + rng.standard_normal((rows, 8))).astype(np.float32)
        np.savez(folder / f"{split}.npz", X=x, y=y.astype(np.uint8))
    return tmp_path


def test_svm_fit_kernel_fits_both_sides_on_the_copys_data(tiny_copy: Path):
    today = kernels.svm_fit(tiny_copy, "today")
    pipeline = kernels.svm_fit(tiny_copy, "pipeline")
    assert today.accuracy == pipeline.accuracy == {"test": 1.0}
    assert today.predictions_sha256 == pipeline.predictions_sha256
    assert today.seconds > 0 and today.predict_seconds > 0
    assert today.estimator.startswith("SVC(")
    model = load_params(tiny_copy / "params.yaml").model("svm")
    assert pipeline.estimator.startswith(f"{model.estimator}: ")
    with pytest.raises(ValueError, match="side: expected one of today, pipeline, got 'yesterday'"):
        kernels.svm_fit(tiny_copy, "yesterday")


def test_today_svc_takes_only_the_parameters_svc_has():
    assert kernels.today_svc({"C": 10, "kernel": "rbf", "n_jobs": 2}).get_params()["C"] == 10


def test_svm_fit_rounds_alternate_the_order_in_fresh_interpreters(tiny_copy: Path):
    rounds = harness.svm_fit_rounds(tiny_copy, 2)
    assert [r.order for r in rounds] == [["today", "pipeline"], ["pipeline", "today"]]
    assert all(r.identical and r.model == "svm" for r in rounds)
    assert all(r.today.process_wall > 0 and r.pipeline.peak_rss_mb > 0 for r in rounds)


def test_cold_cpu_is_divided_by_each_kernels_fastest_sample_of_the_run():
    rounds = [
        CalibrationRound(None, "a", 0.0, [0.1], [Calibration("gemm", "g", [0.5, 0.4])]),
        CalibrationRound(
            "a", None, 9.0, [2.5], [Calibration("gemm", "g", [0.8]), Calibration("svc", "s", [2])]
        ),
    ]
    assert cold_cpu_units(80.0, rounds) == {"gemm": 200.0, "svc": 40.0}
    assert cold_cpu_units(None, rounds) == {}


def test_markdown_report_gives_cpu_seconds_in_kernel_units_and_exp_runs_shares(results: Results):
    report = markdown(results, summarise(results))
    assert (
        "its stages' CPU seconds, summed, 9.0 s = 18 `gemm`, 36 `svc_fit` (each kernel's "
        "fastest sample of the run). `dvc exp run -S pca.n=40`: 0.111 of it." in report
    )
