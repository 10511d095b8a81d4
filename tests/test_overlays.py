"""The overlays stage: a table per overlay chart, each model's own metrics under its name."""

import csv
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import read_params_files, run_main, run_script, write_params_files


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run_overlays(
    root: Path,
    out: Path,
    params: Path | str = "params.yaml",
    evaluations: Path | str = "",
    run=run_main,
) -> subprocess.CompletedProcess:
    """The stage in the slice run ``root``, as dvc.yaml runs it, writing into ``out``."""
    return run(
        "overlays",
        *("--params", params, "--evaluations", evaluations or "stages/evaluate"),
        *("--test", "stages/decode/test.npz", "--out", out),
        cwd=root,
    )


@pytest.fixture(scope="module")
def overlaid(slice_run, tmp_path_factory) -> Path:
    """The overlays of the slice run's knn and sgd_5, in a fresh Python as DVC runs it."""
    out = tmp_path_factory.mktemp("overlaid")
    result = run_overlays(slice_run, out, run=run_script)
    assert result.returncode == 0, result.stderr
    return out


def test_per_class_table_holds_each_classifiers_own_per_class_accuracy(slice_run, overlaid):
    own = read_csv(slice_run / "metrics/knn/per_class.csv")
    rows = read_csv(overlaid / "per_class.csv")
    assert list(rows[0]) == ["model", "class", "test"]
    assert rows == [{"model": "knn", "class": r["class"], "test": r["test"]} for r in own]


def test_pr_curve_table_holds_each_detectors_own_curve(slice_run, overlaid):
    own = read_csv(slice_run / "metrics/sgd_5/pr_curve.csv")
    rows = read_csv(overlaid / "pr_curve.csv")
    assert list(rows[0]) == ["model", "recall", "precision"]
    assert rows == [
        {"model": "sgd_5", "recall": r["recall"], "precision": r["precision"]} for r in own
    ]


def test_a_new_model_in_params_yaml_appears_in_the_overlays(slice_run, overlaid, tmp_path):
    params = read_params_files(slice_run)
    params["models"]["knn_again"] = dict(params["models"]["knn"])
    write_params_files(tmp_path, params)
    shutil.copytree(slice_run / "stages/evaluate", tmp_path / "evaluate")
    shutil.copytree(tmp_path / "evaluate/knn", tmp_path / "evaluate/knn_again")
    result = run_overlays(
        slice_run, tmp_path / "out", tmp_path / "params.yaml", tmp_path / "evaluate"
    )
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "out/per_class.csv")
    knn = [r for r in rows if r["model"] == "knn"]
    assert rows == knn + [{**r, "model": "knn_again"} for r in knn]


def test_overlays_are_the_same_bytes_again(slice_run, overlaid, tmp_path):
    assert run_overlays(slice_run, tmp_path).returncode == 0
    for name in ("per_class.csv", "pr_curve.csv"):
        assert (tmp_path / name).read_bytes() == (overlaid / name).read_bytes()


def test_a_missing_evaluation_is_named(slice_run, tmp_path):
    result = run_overlays(slice_run, tmp_path / "out", evaluations="stages/train")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "overlays: error: stages/train/knn/predictions.npz: no such file (did the previous "
        "stage run?)"
    )
    assert not (tmp_path / "out").exists()
