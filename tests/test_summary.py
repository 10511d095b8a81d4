"""The run's summary pictures (mnist_pipeline/stages/summary.py, the summary stage): the
digits shown, every model's accuracy as its scores report it, PNG bytes that do not change, and
the stage run as DVC runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import (
    PNG_SIGNATURE,
    REPO,
    assert_png_stable,
    png_size,
    run_main,
    run_script,
    write_params_files,
)

from mnist_pipeline.plumbing.drawing import png_bytes
from mnist_pipeline.plumbing.files import save_arrays
from mnist_pipeline.scoring import confusion, split_scores
from mnist_pipeline.stages.summary import accuracy_figure, digits_figure, samples_per_digit

# --- pure functions -------------------------------------------------------------------------


def test_samples_per_digit_takes_the_first_of_each_digit():
    labels = np.array([1, 0, 1, 2, 0, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9])
    picked = samples_per_digit(labels, 2)
    assert picked.shape == (10, 2)
    assert picked[0].tolist() == [1, 4] and picked[1].tolist() == [0, 2]
    assert (labels[picked] == np.arange(10)[:, None]).all()
    with pytest.raises(ValueError, match="only 2 training images of digit 0"):
        samples_per_digit(labels, 3)


# --- PNG bytes ------------------------------------------------------------------------------


def _figures(mnist_slice: dict[str, np.ndarray]) -> dict:
    return {
        "digits": lambda: digits_figure(
            mnist_slice["train_images"][:20].reshape(10, 2, 28, 28), "title"
        ),
        "accuracy": lambda: accuracy_figure(
            ["a", "b_5"], [0.97, 0.9], [False, True], [0.971, None]
        ),
    }


@pytest.mark.parametrize("name", ["digits", "accuracy"])
def test_png_is_the_same_bytes_every_time_whatever_the_rc_params(name, mnist_slice):
    assert_png_stable(_figures(mnist_slice)[name])


def test_accuracy_figure_is_sized_by_its_number_of_models():
    figure = accuracy_figure(["a", "b", "c_5"], [0.97, 0.95, 0.9], [False, False, True], [None] * 3)
    assert png_size(png_bytes(figure, 100)) == (750, 248)


# --- the stage, as DVC runs it -------------------------------------------------------------


def test_summary_script_has_help():
    result = run_main("summary", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: summary")
    assert "--out" in result.stdout


WRONG_EVERY = {"nearest": 50, "svm": 7}
"""In `run_inputs`, these models get every n-th test label wrong; the others none."""


@pytest.fixture
def run_inputs(tmp_path, mnist_slice, repo_params) -> Path:
    """A folder holding what the summary stage reads after a run: the decoded training and
    test splits and, for every model of params.yaml, its predictions.npz in evaluate/."""
    for split in ("train", "test"):
        save_arrays(
            tmp_path / f"decode/{split}.npz",
            {"images": mnist_slice[f"{split}_images"], "labels": mnist_slice[f"{split}_labels"]},
        )
    labels = mnist_slice["test_labels"]
    for name, model in repo_params["models"].items():
        target = model.get("target")
        predicted = labels.copy() if target is None else (labels == target).astype(np.uint8)
        every = WRONG_EVERY.get(name)
        if every:
            predicted[::every] = (predicted[::every] + 1) % 10
        curve = {"curve_precision": np.ones(2), "curve_recall": np.array([1.0, 0.0])}
        save_arrays(
            tmp_path / f"evaluate/{name}/predictions.npz",
            {"test_pred": predicted, **({} if target is None else curve)},
        )
    write_params_files(tmp_path, repo_params)
    return tmp_path


SUMMARY_ARGS = (
    "--params",
    "params.yaml",
    "--images",
    "decode/train.npz",
    "--evaluations",
    "evaluate",
    "--test",
    "decode/test.npz",
)


def test_summary_stage_draws_the_run_pictures(run_inputs, repo_params):
    """In a fresh Python, as DVC runs it."""
    result = run_script("summary", *SUMMARY_ARGS, "--out", "plots/summary", cwd=run_inputs)
    assert result.returncode == 0, result.stderr
    out = run_inputs / "plots/summary"
    assert sorted(p.name for p in out.iterdir()) == ["accuracy.png", "digits.png"]
    assert all(p.read_bytes()[:8] == PNG_SIGNATURE for p in out.iterdir())
    assert f"test accuracy of {len(repo_params['models'])} models: nearest 0.9800, " in (
        result.stderr
    )


def test_summary_accuracy_is_the_one_scores_test_json_reports(run_inputs, mnist_slice):
    """svm is wrong on every 7th of the 300 test digits: 257/300, rounded as evaluate rounds."""
    result = run_main("summary", *SUMMARY_ARGS, "--out", "plots/again", cwd=run_inputs)
    labels = mnist_slice["test_labels"]
    predicted = labels.copy()
    predicted[::7] = (predicted[::7] + 1) % 10
    reported = split_scores(confusion(labels, predicted, 10), "classifier", "test")["acc"]
    assert reported == 0.8567
    assert f"svm {reported:.4f}" in result.stderr


def test_summary_stage_names_the_model_without_predictions(run_inputs):
    (run_inputs / "evaluate/svm/predictions.npz").unlink()
    missing = run_main("summary", *SUMMARY_ARGS, "--out", "plots/other", cwd=run_inputs)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        "summary: error: evaluate/svm/predictions.npz: no such file (did the previous stage run?)"
    )
    assert not (run_inputs / "plots/other").exists()


def test_run_pictures_are_committed():
    assert {p.name for p in (REPO / "plots/summary").iterdir()} == {"accuracy.png", "digits.png"}
