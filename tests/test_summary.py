"""The summary stage: each class's first training images and the accuracies, as stable PNGs."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_png_stable, read_params_files, run_main, run_script, write_params_files

import summary
from mnist_pipeline.charts import png_bytes
from mnist_pipeline.labels import DIGITS
from mnist_pipeline.params import load_params


def run_summary(
    root: Path, out: Path, params: Path | str = "params.yaml", run=run_main
) -> subprocess.CompletedProcess:
    """The stage in the slice run ``root``, as dvc.yaml runs it, writing into ``out``."""
    return run(
        "summary",
        *("--params", params, "--images", "stages/decode/train.npz"),
        *("--evaluations", "stages/evaluate", "--test", "stages/decode/test.npz", "--out", out),
        cwd=root,
    )


@pytest.fixture(scope="module")
def summarised(slice_run, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The pictures of the slice run (knn and sgd_5), drawn in a fresh Python as DVC does."""
    out = tmp_path_factory.mktemp("summary")
    result = run_summary(slice_run, out, run=run_script)
    assert result.returncode == 0, result.stderr
    return out, result


def test_each_models_accuracy_is_the_one_its_scores_report(slice_run, summarised):
    out, result = summarised
    assert sorted(p.name for p in out.iterdir()) == ["accuracy.png", "digits.png"]
    for model in ("knn", "sgd_5"):
        scores = json.loads((slice_run / f"metrics/{model}/scores/test.json").read_text())
        assert f"{model} {scores['acc']:.4f}" in result.stderr


def test_digits_shows_the_first_training_images_of_each_class(slice_run, summarised):
    settings = load_params(slice_run / "params.yaml").figures
    n = settings.samples_per_digit
    train = np.load(slice_run / "stages/decode/train.npz")
    first = [np.flatnonzero(train["labels"] == d)[:n] for d in range(10)]
    title = f"the first {n} training images of each digit"
    expected = summary.digits_figure(train["images"][np.stack(first)], title, DIGITS)
    assert (summarised[0] / "digits.png").read_bytes() == png_bytes(expected, settings.dpi)


def test_too_few_images_of_a_class_are_refused_naming_the_key(slice_run, tmp_path):
    params = read_params_files(slice_run)
    params["figures"]["samples_per_digit"] = 1000
    write_params_files(tmp_path, params)
    result = run_summary(slice_run, tmp_path / "out", tmp_path / "params.yaml")
    zeros = int((np.load(slice_run / "stages/decode/train.npz")["labels"] == 0).sum())
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"summary: error: only {zeros} training images of digit 0, "
        "fewer than figures.samples_per_digit = 1000"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["digits", "accuracy"])
def test_summary_pngs_ignore_rc_params_and_carry_no_date(name, mnist_slice):
    draw = {
        "digits": lambda: summary.digits_figure(
            mnist_slice["train_images"][:20].reshape(10, 2, 28, 28), "title", DIGITS
        ),
        "accuracy": lambda: summary.accuracy_figure(
            ["a", "b_5"], [0.97, 0.9], [False, True], [0.971, None], "LeCun's", "10-digit"
        ),
    }
    assert_png_stable(draw[name])
