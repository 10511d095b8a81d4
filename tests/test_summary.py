"""The run's summary pictures (mnist_pipeline/stages/summary.py, the summary stage): the
digits shown, the variance levels marked, the loss curves and their labels, PNG bytes that do
not change, and the stage run as DVC runs it."""

from __future__ import annotations

import json
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
from mnist_pipeline.stages.pca import explained_variance_ratio, variance_csv
from mnist_pipeline.stages.summary import (
    accuracy_figure,
    annotated_indices,
    components_for,
    digits_figure,
    loss_figure,
    read_history,
    samples_per_digit,
    variance_figure,
)

# --- pure functions -------------------------------------------------------------------------


def test_components_for_a_level_is_the_first_reaching_it():
    cumulative = np.array([0.5, 0.9, 0.99, 1.0])
    assert components_for(cumulative, 0.9) == 2
    assert components_for(cumulative, 0.91) == 3
    assert components_for(cumulative, 0.5) == 1


def test_samples_per_digit_takes_the_first_of_each_digit():
    labels = np.array([1, 0, 1, 2, 0, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9])
    picked = samples_per_digit(labels, 2)
    assert picked.shape == (10, 2)
    assert picked[0].tolist() == [1, 4] and picked[1].tolist() == [0, 2]
    assert (labels[picked] == np.arange(10)[:, None]).all()
    with pytest.raises(ValueError, match="only 2 training images of digit 0"):
        samples_per_digit(labels, 3)


def test_read_history(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n1,0.5\n2,0.25\n")
    assert read_history(path) == ([1, 2], [0.5, 0.25])
    path.write_text("epoch,loss\n")
    assert read_history(path) == ([], [])


# --- PNG bytes ------------------------------------------------------------------------------


def _figures(mnist_slice: dict[str, np.ndarray]) -> dict:
    rng = np.random.default_rng(4)
    ratio = np.sort(rng.random(784))[::-1]
    ratio /= ratio.sum()
    return {
        "digits": lambda: digits_figure(
            mnist_slice["train_images"][:20].reshape(10, 2, 28, 28), "title"
        ),
        "variance": lambda: variance_figure(ratio, 60),
        "accuracy": lambda: accuracy_figure(
            ["a", "b_5"], [0.97, 0.9], [False, True], [0.971, None]
        ),
        "loss": lambda: loss_figure({"mlp": ([1, 2, 3], [0.4, 0.2, 0.1])}),
        "no loss": lambda: loss_figure({}),
        "two losses": lambda: loss_figure(
            {
                "mlp": ([1, 2, 3], [0.4, 0.2, 0.1]),
                "gd_4": (list(range(201)), list(0.69 / np.sqrt(1 + np.arange(201.0)))),
            }
        ),
    }


@pytest.mark.parametrize(
    "name", ["digits", "variance", "accuracy", "loss", "no loss", "two losses"]
)
def test_png_is_the_same_bytes_every_time_whatever_the_rc_params(name, mnist_slice):
    assert_png_stable(_figures(mnist_slice)[name])


def test_long_loss_curve_has_only_its_first_three_and_last_losses_written():
    assert annotated_indices(201) == [0, 1, 2, 200]
    assert annotated_indices(5) == [0, 1, 2, 3, 4]


def test_loss_figure_has_one_panel_per_model(mnist_slice):
    figure = _figures(mnist_slice)["two losses"]()
    assert [ax.get_title() for ax in figure.axes] == ["mlp", "gd_4"]
    assert png_size(png_bytes(figure, 100)) == (720, 360)


# --- the stage, as DVC runs it -------------------------------------------------------------


def test_summary_script_has_help():
    result = run_main("summary", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: summary")
    assert "--out" in result.stdout


@pytest.fixture(scope="module")
def slice_variance(mnist_slice) -> str:
    """The variance spectrum CSV of the slice's training images, scaled to 0-1 (BLAS on one
    thread: on two shared cores its threads can wait seconds for each other)."""
    from threadpoolctl import threadpool_limits

    images = mnist_slice["train_images"]
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    with threadpool_limits(limits=1, user_api="blas"):
        return variance_csv(explained_variance_ratio(x))


@pytest.fixture
def run_inputs(tmp_path, mnist_slice, slice_variance, repo_params) -> Path:
    """A folder holding what the summary stage reads after a run: the decoded training images,
    the variance spectrum, and a score and loss history for every model of params.yaml."""
    images, labels = mnist_slice["train_images"], mnist_slice["train_labels"]
    save_arrays(tmp_path / "decode/train.npz", {"images": images, "labels": labels})
    (tmp_path / "variance.csv").write_text(slice_variance)
    metrics = tmp_path / "metrics"
    for i, name in enumerate(repo_params["models"]):
        (metrics / name / "scores").mkdir(parents=True)
        (metrics / name / "scores" / "test.json").write_text(json.dumps({"acc": 0.9 + i / 100}))
        (metrics / name / "history.csv").write_text(
            "epoch,loss\n1,0.4\n2,0.2\n" if name == "mlp" else "epoch,loss\n"
        )
    write_params_files(tmp_path, repo_params)
    return tmp_path


SUMMARY_ARGS = (
    "--params",
    "params.yaml",
    "--images",
    "decode/train.npz",
    "--variance",
    "variance.csv",
    "--metrics",
    "metrics",
)


def test_summary_stage_draws_the_run_pictures(run_inputs, repo_params):
    """In a fresh Python, as DVC runs it."""
    result = run_script("summary", *SUMMARY_ARGS, "--out", "plots/summary", cwd=run_inputs)
    assert result.returncode == 0, result.stderr
    out = run_inputs / "plots/summary"
    assert sorted(p.name for p in out.iterdir()) == [
        "accuracy.png",
        "digits.png",
        "loss.png",
        "pca_variance.png",
    ]
    assert all(p.read_bytes()[:8] == PNG_SIGNATURE for p in out.iterdir())
    assert f"{len(repo_params['models'])} models compared" in result.stderr


def test_summary_stage_names_the_model_without_metrics(run_inputs):
    (run_inputs / "metrics/svm/scores/test.json").unlink()
    missing = run_main("summary", *SUMMARY_ARGS, "--out", "plots/other", cwd=run_inputs)
    assert missing.returncode == 1
    assert (
        "summary: error: metrics/svm/scores/test.json: no metrics for model svm" in missing.stderr
    )


def test_run_pictures_are_committed():
    assert {p.name for p in (REPO / "plots/summary").iterdir()} == {
        "accuracy.png",
        "digits.png",
        "loss.png",
        "pca_variance.png",
    }
