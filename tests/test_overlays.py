"""The overlays stage (mnist_pipeline/stages/overlays.py): one table per overlay chart, every
model in it under its name, with the very values of each model's own metrics/ tables."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
from conftest import params_copy, run_main, run_script


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run_overlays(root: Path, out: Path, run=run_main) -> subprocess.CompletedProcess:
    """The stage in the shared slice run ``root``, writing into ``out`` (a stage writes only
    inside its params file's repository: a copy of ``root``'s params beside ``out``)."""
    return run(
        "overlays",
        "--params",
        params_copy(root, out.parent),
        "--evaluations",
        "stages/evaluate",
        "--test",
        "stages/decode/test.npz",
        "--out",
        out,
        cwd=root,
    )


@pytest.fixture(scope="module")
def overlaid(slice_run, tmp_path_factory) -> Path:
    """The overlays of the slice run's knn and sgd_5, as DVC runs the stage: a fresh Python."""
    out = tmp_path_factory.mktemp("overlaid") / "overlays"
    result = run_overlays(slice_run, out, run=run_script)
    assert result.returncode == 0, result.stderr
    assert "overlays: 1 classifiers and 1 detectors side by side" in result.stderr
    return out


def test_overlays_script_has_help():
    result = run_main("overlays", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: overlays")
    assert "--evaluations" in result.stdout


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


def test_overlays_are_the_same_bytes_again(slice_run, overlaid, tmp_path):
    assert run_overlays(slice_run, tmp_path / "again").returncode == 0
    for name in ("per_class.csv", "pr_curve.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (overlaid / name).read_bytes()


def test_overlays_name_the_model_whose_evaluation_is_missing(slice_run, tmp_path):
    result = run_main(
        "overlays",
        "--params",
        params_copy(slice_run, tmp_path),
        "--evaluations",
        slice_run / "stages/train",
        "--test",
        slice_run / "stages/decode/test.npz",
        "--out",
        tmp_path / "out",
    )
    assert result.returncode == 1
    missing = slice_run / "stages/train/knn/predictions.npz"
    assert result.stderr.strip().splitlines()[-1] == (
        f"overlays: error: {missing}: no such file (did the previous stage run?)"
    )
    assert not (tmp_path / "out").exists()
