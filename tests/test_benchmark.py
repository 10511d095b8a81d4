"""benchmarks/: the command, the harness's wrapper and logs, the kernels, the records and the
report (no timing is asserted: the benchmark itself reports numbers)."""

from __future__ import annotations

import json
import os
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
    ColdRun,
    DvcRun,
    Experiment,
    ImportCost,
    ImportProfile,
    KernelRun,
    Machine,
    NearestPair,
    Repeat,
    Results,
    Scores,
    StageRun,
)
from bench.report import markdown, summarise
from conftest import REPO

from mnist_pipeline.stage import run_stage

SCRIPT = REPO / "benchmarks" / "run.py"


def test_help_describes_the_options():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for option in ("--repeat", "--out", "--markdown", "--core-target", "--skip-deskew"):
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
    assert run_stage("demo", lambda: None, ()) == 0
    assert run_stage("demo", lambda: None, ()) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["name"] for r in records] == ["demo", "demo"]
    assert records[0]["argv"] == sys.argv and records[0]["work"] >= 0


def test_a_stage_logs_nothing_without_bench_work_log(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_WORK_LOG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_stage("demo", lambda: None, ()) == 0
    assert list(tmp_path.iterdir()) == []


def test_exit_stage_freezes_the_garbage_collector_and_keeps_the_exit_code_and_atexit():
    code = (
        "import atexit, gc, sys; from mnist_pipeline.stage import exit_stage; "
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


def test_calibrations_of_two_sessions_are_merged_per_kernel():
    first = [Calibration("gemm", "product", [0.5, 0.6]), Calibration("loop", "loop", [0.4])]
    second = [Calibration("gemm", "product", [0.7]), Calibration("loop", "loop", [0.3])]
    merged = harness.merge_calibrations(first, second)
    assert [(c.kernel, c.seconds) for c in merged] == [
        ("gemm", [0.5, 0.6, 0.7]),
        ("loop", [0.4, 0.3]),
    ]
    assert merged[0].median == 0.6 and first[0].seconds == [0.5, 0.6]


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
        calibration=[
            Calibration("gemm", "product", [0.5, 0.5]),
            Calibration("svc_fit", "SVC", [0.5, 0.25, 0.75]),
        ],
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
    assert (cold.seconds, cold.ratio, cold.ratio_to) == (50.0, 100.0, "`svc_fit`")
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
    assert "| `svc_fit`: SVC | 0.500 | 0.500, 0.250, 0.750 |" in report
    assert "| target | s | ratio | ratio to | limit | met |" in report
    assert "| cold `dvc repro`, all 4 stages | 50.00 | 100 | `svc_fit` | 60 s | yes |" in report
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
    assert KernelRun(**asdict(KernelRun(seconds=1.0))) == KernelRun(seconds=1.0)
