"""benchmarks/: the stage wrapper, what is read from dvc's output, the copy, the probes, and
the targets and report made of fixed records (no timing is asserted: the benchmark reports)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import run
import yaml
from bench import kernels, pipeline, probes, report
from bench.pipeline import DvcRun, Stage
from conftest import REPO

from mnist_pipeline.plumbing.idx import MNIST_FILE_NAMES, read_idx
from mnist_pipeline.plumbing.params import load_params

KERNELS = REPO / "benchmarks" / "bench" / "kernels.py"


@pytest.mark.parametrize(
    ("script", "options"),
    [
        ("run.py", ("--sizes", "--pairs", "--svm-rounds", "--out")),
        ("predict.py", ("--model", "--repeat", "--out")),
        ("cnn.py", ("--images", "--epochs", "--out")),
        ("hostile_params.py", ("--repo", "--label", "--timeout", "--max-rss", "--repeat", "--out")),
        ("cluster.py", ("--data", "-S", "--out")),
    ],
)
def test_every_benchmark_starts_and_describes_its_options(script, options):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert all(option in result.stdout for option in options), result.stdout


def test_timed_runs_the_command_and_logs_its_own_resource_use(tmp_path: Path):
    log = tmp_path / "stages.jsonl"
    code = "import sys; block = bytearray(300 * 2**20); print(sys.argv[1:]); sys.exit(3)"
    command = [
        sys.executable,
        "-I",
        "-S",
        str(KERNELS),
        "timed",
        "train@k",
        sys.executable,
        "-c",
        code,
        "-k",
    ]
    env = {"BENCH_STAGE_LOG": str(log), "PATH": ""}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert (result.returncode, result.stdout) == (3, "['-k']\n"), result.stderr
    record = json.loads(log.read_text())
    assert (record["exit"], record["stage"]) == (3, "train@k")
    assert record["peak_rss_mb"] > 300  # the child's 300 MB, not the wrapper's few
    assert record["wall"] > 0 and record["cpu"] >= 0


def test_measure_gives_a_commands_own_peak_memory_and_refuses_a_failure():
    done = kernels.measure([sys.executable, "-c", "b = bytearray(200 * 2**20); print('ok')"])
    assert done.stdout == "ok\n" and done.peak_rss_mb > 200 and done.wall > 0
    fail = "import sys; print('no room', file=sys.stderr); sys.exit(2)"
    with pytest.raises(RuntimeError, match=r"exited 2: no room$"):
        kernels.measure([sys.executable, "-c", fail])


def test_measure_kills_a_command_past_its_time_or_memory_and_says_which():
    sleep = [sys.executable, "-c", "import time; time.sleep(30)"]
    assert kernels.measure(sleep, check=False, timeout=0.5).exit == "killed after 0.5 s"
    grow = [sys.executable, "-c", "import time; block = bytearray(400 * 2**20); time.sleep(30)"]
    killed = kernels.measure(grow, check=False, timeout=20, max_rss_mb=200)
    assert (killed.exit, killed.wall < 20) == ("killed at 200 MB", True)
    with pytest.raises(RuntimeError, match=r"killed after 0\.5 s"):
        kernels.measure(sleep, timeout=0.5)


def test_reference_kernels_give_their_samples_from_a_fresh_interpreter():
    sizes = {"gemm": 64, "python_loop": 1000, "svc_fit": 200}
    samples = kernels.reference_seconds(2, sizes)
    assert list(samples) == ["gemm", "python_loop", "svc_fit"]
    assert all(len(v) == 2 and min(v) > 0 for v in samples.values())
    assert kernels.ratio(2.0, 3.0) == 0.6667


def test_every_stage_command_of_the_copy_runs_through_timed():
    wrapped = yaml.safe_load(pipeline.wrap_commands((REPO / "dvc.yaml").read_text()))["stages"]
    commands = [spec.get("do", spec)["cmd"] for spec in wrapped.values()]
    assert commands and all(c.startswith(pipeline.TIMED) for c in commands)
    assert wrapped["pca"]["cmd"].startswith(pipeline.TIMED + "pca python src/pca.py ")
    assert wrapped["train"]["do"]["cmd"].startswith(pipeline.TIMED + "train@${key} python src/")
    assert wrapped["train"]["foreach"] == "${models}"


def test_the_copy_leaves_out_metrics_and_plots_and_commits_its_dvc_yaml(tmp_path: Path):
    copy = pipeline.make_copy(tmp_path / "copy")
    assert (copy / "data" / "mnist").is_dir() and (copy / "benchmarks" / "run.py").is_file()
    assert not any((copy / name).exists() for name in ("metrics", "plots", "stages"))
    assert pipeline.TIMED in (copy / "dvc.yaml").read_text()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


DVC_OUTPUT = """\
Running stage 'pca':
> python -I -S benchmarks/bench/kernels.py timed pca python src/pca.py --params params.yaml
pca: 60 components keep 85.3% of the variance
pca: done in 1.2 s

Running stage 'evaluate@knn':
> python -I -S benchmarks/bench/kernels.py timed evaluate@knn python src/evaluate.py --model knn
evaluate: knn: predicted val and test in 1.9 s
evaluate: done in 2.4 s
Updating lock file 'dvc.lock'
"""


def test_each_stages_work_is_its_done_line_under_its_running_line():
    assert pipeline.work_seconds(DVC_OUTPUT) == {"pca": 1.2, "evaluate@knn": 2.4}


def test_stages_join_the_wrappers_figures_with_their_work(tmp_path: Path):
    log = tmp_path / "stages.jsonl"
    records = [
        {"stage": "pca", "wall": 1.5, "cpu": 2.0, "peak_rss_mb": 500, "exit": 0},
        {"stage": "evaluate@knn", "wall": 3.0, "cpu": 4.0, "peak_rss_mb": 200, "exit": 0},
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    stages = pipeline.read_stages(log, DVC_OUTPUT)
    assert stages == {"pca": Stage(1.5, 2.0, 500, 1.2), "evaluate@knn": Stage(3.0, 4.0, 200, 2.4)}
    assert DvcRun(9.0, stages).startup == 0.9 and DvcRun(9.0, stages).cpu == 6.0
    log.write_text(json.dumps({**records[0], "exit": 1}) + "\n")
    with pytest.raises(RuntimeError, match=r"stage pca exited 1"):
        pipeline.read_stages(log, DVC_OUTPUT)


def test_imports_sklearn_is_read_from_importtime(tmp_path: Path):
    assert run.imports_sklearn([sys.executable, "-c", "import sklearn"], tmp_path)
    assert not run.imports_sklearn([sys.executable, "-c", "import json"], tmp_path)


@pytest.fixture
def tiny_copy(tmp_path: Path) -> Path:
    """A copy with the repository's params.yaml, datasets.yaml and src/, and rows of five
    well-separated classes as the features of models.svm and models.nearest."""
    for name in ("params.yaml", "datasets.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "src").symlink_to(REPO / "src")
    params = load_params(tmp_path / "params.yaml")
    rng = np.random.default_rng(0)
    centres = 10.0 * rng.standard_normal((5, 8))
    for model in ("svm", "nearest"):
        folder = tmp_path / "stages" / params.model(model).features
        folder.mkdir(parents=True, exist_ok=True)
        for split, rows in (("train", 60), ("val", 10), ("test", 20)):
            y = np.arange(rows) % 5
            x = (centres[y] + rng.standard_normal((rows, 8))).astype(np.float32)
            np.savez(folder / f"{split}.npz", X=x, y=y.astype(np.uint8))
    return tmp_path


def test_probes_run_in_a_fresh_interpreter_on_the_copys_data(tiny_copy: Path):
    assert run.probe(tiny_copy, "bare_matmul", "4")["seconds"] >= 0
    today, ours = (run.probe(tiny_copy, "svm_fit", side) for side in probes.SIDES)
    assert today["accuracy"] == ours["accuracy"] == 1.0
    assert today["sha256"] == ours["sha256"] and today["fit"] > 0 and ours["predict"] > 0
    with pytest.raises(ValueError, match="side: expected one of today, pipeline, got 'old'"):
        probes.svm_fit(tiny_copy, "old")


# ---------------------------------------------------------------------------------------------
# A fixed record, and what the targets and the report make of it


def stage(wall: float, work: float, rss: float = 100.0) -> Stage:
    return Stage(wall, 2 * wall, rss, work)


def svm_round(first: str, today_fit: float, pipeline_fit: float, sha: str = "a") -> dict:
    side = {"predict": 1.0, "accuracy": 0.9905, "sha256": "a"}
    return {
        "first": first,
        "today": {**side, "fit": today_fit},
        "pipeline": {**side, "fit": pipeline_fit, "sha256": sha},
    }


def measured(**changes) -> run.Measured:
    cold = DvcRun(50.0, {"pca": stage(2.0, 1.5, 900.0), "train@svm": stage(6.0, 5.0)})
    fields = {
        "machine": {"date": "2026-12-01 10:00", "commit": "abc1234", "cpu": "cpu", "cores": 2}
        | {"python": "3.11.7", "versions": {"numpy": "2.4.6"}},
        "load": [[0.5, 0.4, 0.3], [1.0, 0.9, 0.8]],
        "references": {
            "start": {"gemm": [0.6, 0.5], "svc_fit": [0.5, 0.6]},
            "end": {"gemm": [0.7, 0.8], "svc_fit": [0.4, 0.9]},
        },
        "cold": cold,
        "identical_outputs": True,
        "noop_repro": [1.2, 1.5, 1.4],
        "status": [1.0, 1.0, 1.0],
        "nearest": [[7.0, 6.0], [6.0, 6.0]],
        "nearest_imports_sklearn": False,
        "import_sklearn": 0.7,
        "svm_fit": [svm_round("today", 5.0, 2.5), svm_round("pipeline", 6.0, 2.4)],
        "experiments": {"pca.n=40": DvcRun(10.0, {"pca": stage(1.0, 0.5)}), "models.svm.C=5": cold},
        "scaling": {},
    }
    return run.Measured(**{**fields, **changes})


def by_name(found: list[run.Target]) -> dict[str, run.Target]:
    return {t.name.split(" /")[0]: t for t in found}


def test_paired_targets_are_medians_of_the_per_pair_ratios():
    found = by_name(run.targets(measured()))
    noop = found["no-op `dvc repro`"]
    assert (noop.seconds, noop.against_seconds, noop.ratio, noop.met) == (1.4, 1.0, 1.4, True)
    nearest = found["`evaluate@nearest`"]
    assert (nearest.seconds, nearest.ratio, nearest.limit) == (6.5, 1.083, 1.3)
    svm = found["`train@svm` fit"]
    assert (svm.seconds, svm.against_seconds, svm.ratio, svm.met) == (2.45, 5.5, 0.45, True)


def test_shares_of_the_cold_run_and_the_raw_limits():
    found = by_name(run.targets(measured()))
    assert found["`dvc exp run -S pca.n=40`"].ratio == 0.2
    assert found["the same, the stages' CPU seconds"].ratio == 0.125  # 2 s of the cold run's 16
    startup = found["stages' start-up (wall less work)"]
    assert (startup.seconds, startup.ratio, startup.met) == (1.5, 0.03, True)
    cold = found["cold `dvc repro`"]
    assert (cold.ratio, cold.against_seconds, cold.value, cold.met) == (125.0, 0.4, 50.0, True)
    assert not replace(cold, limit=45.0).met
    peak = found["peak RSS of any stage (`pca`): 900 MB"]
    assert (peak.value, peak.limit, peak.unit, peak.met) == (900.0, 2048.0, "MB", True)


def test_a_target_over_its_limit_is_not_met_and_fails_the_run():
    slow = measured(nearest=[[9.0, 6.0], [8.4, 6.0]])
    nearest = by_name(run.targets(slow))["`evaluate@nearest`"]
    assert (nearest.ratio, nearest.met) == (1.45, False)
    text = "\n".join(run.markdown(slow, run.targets(slow), run.checks(slow)))
    assert (
        "| `evaluate@nearest` / its bare matrix product, paired | 8.70 | bare product | 6.00 "
        "| 1.45 | 1.3 | **no** |" in text
    )


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({"identical_outputs": False}, "every metrics/ and plots/ file"),
        ({"nearest_imports_sklearn": True}, "`evaluate@nearest` imports no scikit-learn"),
        ({"svm_fit": [svm_round("today", 5.0, 2.5, sha="b")]}, "predicts what `SVC` predicts"),
    ],
)
def test_each_check_fails_on_its_own(changes, failed):
    ok = run.checks(measured(**changes))
    assert [name for name, passed in ok.items() if not passed] == [
        next(name for name in ok if failed in name)
    ]


def test_report_has_the_targets_and_the_stages():
    m = measured()
    text = "\n".join(run.markdown(m, run.targets(m), run.checks(m)))
    assert "`gemm` 0.500, 0.700, `svc_fit` 0.500, 0.400;" in text
    assert (
        "| no-op `dvc repro` / `dvc status` | 1.40 | `dvc status` | 1.00 | 1.4 | 1.5 | yes |"
        in (text)
    )
    assert "| `evaluate@nearest` imports no scikit-learn |  |  |  |  |  | yes |" in text
    assert "| cold `dvc repro` | 50.00 | `svc_fit`, fastest | 0.40 | 125 | 60 s | yes |" in text
    assert "| peak RSS of any stage (`pca`): 900 MB | 2.00 |  |  |  | 2048 MB | yes |" in text
    assert "| `train@svm` | 5.0 | 1.00 | 12.00 | 100 | 6.00 |" in text
    assert "| cold `dvc repro` |  | 1.5 | 16.0 |  | **50.0** |" in text
    assert "exponent" not in text


def test_report_with_other_sizes_has_the_growth_exponents():
    small = DvcRun(20.0, {"pca": stage(1.0, 0.5, 300.0), "train@svm": stage(1.5, 1.0)})
    big = DvcRun(300.0, {"pca": stage(4.0, 3.5, 2000.0), "train@svm": stage(96.0, 95.0)})
    m = measured(scaling={12_500: small, 200_000: big})
    lines = run.stage_lines(m.cold, m.scaling)
    assert lines[0] == (
        "| stage | work s | start-up s | CPU s | RSS MB | 12,500 s | 50,000 s | 200,000 s "
        "| 200,000 RSS MB | exponent | 50,000->200,000 |"
    )
    assert lines[2] == (
        "| `train@svm` | 5.0 | 1.00 | 12.00 | 100 | 1.50 | 6.00 | 96.00 | 100 | 1.50 | 2.00 |"
    )
    assert lines[-1].endswith("| **20.0** | **50.0** | **300.0** |")


def test_results_are_one_markdown_and_a_small_json_per_run(tmp_path: Path):
    data = {"targets": [{"name": "x", "value": 1.0}], "checks": {"ok": True}}
    path = report.write_run("topic", "# report\n", data, tmp_path)
    assert path.read_text() == "# report\n" and path.name.endswith("-topic.md")
    text = path.with_suffix(".json").read_text()
    assert json.loads(text) == data and len(text.splitlines()) == 4
    assert report.table(["a", "b"], [[1, 2]]) == ["| a | b |", "|---|---:|", "| 1 | 2 |"]


def test_a_published_run_is_its_title_machine_line_and_lines_with_the_machine_in_its_json(
    tmp_path: Path, capsys
):
    about = measured().machine | {"load": [0.5, 0.4, 0.3]}
    path = report.publish("topic", "A topic", about, ["| a |"], {"x": 1.0}, tmp_path)
    assert path == tmp_path / "2026-12-01-topic.md"
    machine_line = (
        "2026-12-01 10:00, commit abc1234, cpu, 2 cores, Python 3.11.7, numpy 2.4.6. "
        "Load average [0.5, 0.4, 0.3] at the start."
    )
    expected = f"# A topic\n\n{machine_line}\n\n| a |\n"
    assert path.read_text() == capsys.readouterr().out == expected
    assert json.loads(path.with_suffix(".json").read_text()) == {"machine": about, "x": 1.0}


def test_a_new_result_deletes_the_topics_earlier_ones_and_no_other(tmp_path: Path):
    for name in ("2026-11-28-topic.md", "2026-11-28-topic.json", "2026-11-28-other-topic.md"):
        (tmp_path / name).write_text("old\n")
    report.write_run("topic", "# report\n", {}, tmp_path, "2026-12-02")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-11-28-other-topic.md",
        "2026-12-02-topic.json",
        "2026-12-02-topic.md",
    ]


def test_growth_exponent_is_the_log_log_slope():
    assert run.growth({100: 1.0, 400: 4.0}) == pytest.approx(1.0)
    assert run.growth({100: 1.0, 200: 4.0, 400: 16.0}) == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------
# The training sets of the scaling table


@pytest.fixture(scope="module")
def mnist_train() -> tuple[np.ndarray, np.ndarray]:
    roles = ("train_images", "train_labels")
    return tuple(read_idx(pipeline.MNIST / MNIST_FILE_NAMES[role]) for role in roles)


def test_fifty_thousand_training_images_are_mnists_own_file(mnist_train):
    images, labels = pipeline.training_set(*mnist_train, 50_000)
    np.testing.assert_array_equal(images, mnist_train[0])
    np.testing.assert_array_equal(labels, mnist_train[1])


def test_other_sizes_take_the_first_images_then_shifted_copies_then_validation(mnist_train):
    images, labels = mnist_train
    small, _ = pipeline.training_set(images, labels, 6_250)
    np.testing.assert_array_equal(small[:6_250], images[:6_250])
    assert len(small) == 16_250
    big, big_labels = pipeline.training_set(images, labels, 120_000)
    assert big.shape == (130_000, 28, 28)
    one_right = np.pad(images[:50_000], ((0, 0), (0, 0), (1, 0)))[:, :, :28]
    np.testing.assert_array_equal(big[50_000:100_000], one_right)
    np.testing.assert_array_equal(big_labels[100_000:120_000], labels[:20_000])
    np.testing.assert_array_equal(big[-10_000:], images[-10_000:])
    with pytest.raises(ValueError, match="at most 250000 images"):
        pipeline.training_set(images, labels, 500_000)


def test_a_copy_can_be_pointed_at_another_training_set(tmp_path: Path):
    copy = pipeline.make_copy(tmp_path / "copy")
    pipeline.use_training_set(copy, 6_250)
    params = load_params(copy / "params.yaml")
    assert list(params.dataset.mirrors) == [str(tmp_path / "copy-data")]
    train = read_idx(tmp_path / "copy-data" / MNIST_FILE_NAMES["train_labels"])
    assert len(train) == 16_250
