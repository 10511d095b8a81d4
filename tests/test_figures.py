"""Each model's pictures (mnist_pipeline/stages/figures.py, the figures stage): the mistakes
shown and their captions, the operating point on the precision-recall curve, PNG bytes that
do not change, and the stage run as DVC runs it on a small slice of MNIST."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    PNG_SIGNATURE,
    REPO,
    assert_png_stable,
    params_copy,
    png_size,
    read_params_files,
    run_main,
    run_script,
    write_params_files,
)

from mnist_pipeline.plumbing.drawing import png_bytes
from mnist_pipeline.plumbing.files import save_arrays
from mnist_pipeline.plumbing.params import load_params
from mnist_pipeline.scoring import confusion, precision_recall, split_scores
from mnist_pipeline.stages.figures import (
    FiguresError,
    Threshold,
    captions,
    confusion_figure,
    gallery_figure,
    misclassified,
    operating_point,
    pr_curve_figure,
)

# --- pure functions -------------------------------------------------------------------------


def test_misclassified_are_the_first_wrong_items_in_test_order():
    y_true = np.array([1, 2, 3, 4, 5, 6])
    y_pred = np.array([1, 0, 3, 0, 0, 6])
    assert misclassified(y_true, y_pred, 2).tolist() == [1, 3]
    assert misclassified(y_true, y_pred, 10).tolist() == [1, 3, 4]
    assert misclassified(y_true, y_pred, 0).tolist() == []
    assert misclassified(y_true, y_true, 5).tolist() == []
    with pytest.raises(FiguresError, match="6 labels but 5 predictions"):
        misclassified(y_true, y_pred[:5], 3)


def test_captions_read_actual_then_predicted_class():
    assert captions(np.array([4, 7]), np.array([9, 1]), [str(d) for d in range(10)]) == [
        "4 -> 9",
        "7 -> 1",
    ]
    # a detector of 5: a false positive, then a missed 5
    assert captions(np.array([3, 5]), np.array([1, 0]), ["not_5", "5"]) == ["3 -> 5", "5 -> not 5"]


def test_threshold_point_is_the_precision_and_recall_the_scores_report():
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.1).astype(np.uint8)
    score = 2.5 * y - 1.5 + rng.normal(size=2000)
    y_pred = (score > 0).astype(np.uint8)
    matrix = confusion(y, y_pred, 2)
    recall, precision = operating_point(matrix)
    reported = split_scores(matrix, "detector", "test", 0.5)
    assert (round(recall, 4), round(precision, 4)) == (reported["r"], reported["p"])

    curve_precision, curve_recall, _, _ = precision_recall(y, score)
    figure = pr_curve_figure(
        curve_precision,
        curve_recall,
        (recall, precision),
        Threshold(0.0, "decision_function"),
        float(y.mean()),
        "t",
    )
    marked = [line for line in figure.axes[0].lines if line.get_marker() == "o"]
    assert len(marked) == 1
    assert (marked[0].get_xdata()[0], marked[0].get_ydata()[0]) == (recall, precision)
    assert marked[0].get_label() == "default threshold: decision_function > 0"


def test_operating_point_without_positive_predictions_has_no_precision():
    y = np.array([0, 1, 0, 1])
    assert operating_point(confusion(y, np.zeros(4), 2)) == (0.0, None)
    assert operating_point(confusion(y, np.array([0, 1, 1, 1]), 2)) == (
        1.0,
        pytest.approx(2 / 3),
    )


# --- PNG bytes ------------------------------------------------------------------------------


def _figures(mnist_slice: dict[str, np.ndarray]) -> dict:
    rng = np.random.default_rng(4)
    matrix = rng.integers(0, 50, size=(10, 10)) + np.diag(np.full(10, 900))
    images = mnist_slice["test_images"][:13]
    y = (rng.random(300) < 0.1).astype(int)
    return {
        "confusion": lambda: confusion_figure(matrix, [str(d) for d in range(10)], "title"),
        "gallery": lambda: gallery_figure(images, [f"{d} -> 0" for d in range(13)], "title"),
        "empty gallery": lambda: gallery_figure(images[:0], [], "title"),
        "precision_recall": lambda: pr_curve_figure(
            np.array([0.1, 0.5, 1.0]),
            np.array([1.0, 0.5, 0.0]),
            (0.5, 0.5),
            Threshold(0.5, "predict_proba"),
            float(y.mean()),
            "title",
        ),
    }


@pytest.mark.parametrize("name", ["confusion", "gallery", "empty gallery", "precision_recall"])
def test_png_is_the_same_bytes_every_time_whatever_the_rc_params(name, mnist_slice):
    assert_png_stable(_figures(mnist_slice)[name])


def test_png_size_is_fixed_by_inches_and_dpi(mnist_slice):
    figures = _figures(mnist_slice)
    assert png_size(png_bytes(figures["confusion"](), 100)) == (560, 480)
    assert png_size(png_bytes(figures["confusion"](), 50)) == (280, 240)
    assert png_size(png_bytes(figures["precision_recall"](), 100)) == (560, 460)


# --- the stage, as DVC runs it -------------------------------------------------------------


def test_figures_script_has_help():
    result = run_main("figures", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: figures")
    assert "--out" in result.stdout


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, mnist_slice) -> Path:
    """A folder shaped like the repository after `evaluate` on 300 test digits: knn with a
    wrong answer every 7th digit, sgd_5 scored by a noisy decision function."""
    root = tmp_path_factory.mktemp("evaluated")
    images, labels = mnist_slice["test_images"], mnist_slice["test_labels"]
    save_arrays(root / "stages/decode/test.npz", {"images": images, "labels": labels})
    knn_pred = labels.copy()
    knn_pred[::7] = (knn_pred[::7] + 1) % 10
    save_arrays(
        root / "stages/evaluate/knn/predictions.npz",
        {"val_pred": knn_pred[:10], "test_pred": knn_pred},
    )
    rng = np.random.default_rng(5)
    score = (2.0 * (labels == 5) - 1.2 + rng.normal(size=len(labels))).astype(np.float32)
    curve_precision, curve_recall, _, ap = precision_recall(labels == 5, score)
    save_arrays(
        root / "stages/evaluate/sgd_5/predictions.npz",
        {
            "val_pred": np.zeros(10, np.uint8),
            "val_score": score[:10],
            "test_pred": (score > 0).astype(np.uint8),
            "test_score": score,
            "score_kind": np.array("decision_function"),
            "threshold": np.array(0.0),
            "curve_precision": curve_precision,
            "curve_recall": curve_recall,
            "test_ap": np.array(ap),
        },
    )
    write_params_files(root, read_params_files(REPO))
    return root


def run_figures(
    root: Path,
    out: Path | str,
    evaluations: Path | str = "stages/evaluate",
    run=run_main,
    params: Path | str = "params.yaml",
) -> subprocess.CompletedProcess:
    """The figures stage on knn and sgd_5, in this process (``run=run_script``: a fresh one)."""
    return run(
        "figures",
        "--params",
        params,
        "--evaluations",
        evaluations,
        "--images",
        "stages/decode/test.npz",
        "--out",
        out,
        "--model",
        "knn",
        "--model",
        "sgd_5",
        cwd=root,
    )


@pytest.fixture(scope="module")
def drawn(evaluated) -> subprocess.CompletedProcess:
    """The figures stage's run on the knn and sgd_5 evaluations, into plots/figures, as DVC
    runs it: in a fresh Python."""
    return run_figures(evaluated, "plots/figures", run=run_script)


def test_figures_stage_draws_one_folder_of_pictures_per_model(evaluated, drawn):
    assert drawn.returncode == 0, drawn.stderr
    out = evaluated / "plots/figures"
    assert {p.name: sorted(q.name for q in p.iterdir()) for p in out.iterdir()} == {
        "knn": ["confusion.png", "misclassified.png"],
        "sgd_5": ["confusion.png", "misclassified.png", "precision_recall.png"],
    }


def test_figures_stage_draws_the_same_bytes_again(evaluated, drawn):
    """Again, in this process: byte for byte the pictures of the fresh Python's run."""
    again = run_figures(evaluated, "again")
    assert again.returncode == 0, again.stderr
    for png in (evaluated / "plots/figures").rglob("*.png"):
        data = png.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        assert data == (evaluated / "again" / png.parent.name / png.name).read_bytes(), png


def test_figures_stage_logs_how_many_digits_each_model_got_wrong(drawn):
    assert "knn: 43 of 300 test digits misclassified, 40 shown" in drawn.stderr  # every 7th


def test_figures_stage_refuses_predictions_of_another_split(evaluated, tmp_path):
    shutil.copytree(evaluated / "stages/evaluate", tmp_path / "evaluate")
    short = tmp_path / "evaluate/knn/predictions.npz"
    save_arrays(short, {"test_pred": np.zeros(10, np.uint8)})
    params = params_copy(evaluated, tmp_path)
    result = run_figures(evaluated, tmp_path / "out", tmp_path / "evaluate", params=params)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"figures: error: {short} holds 10 predictions, but the test split has 300 labels: "
        "they should be the same split"
    )
    assert not (tmp_path / "out").exists()


def test_pictures_of_every_model_are_committed():
    params = load_params(REPO / "params.yaml")
    for name, model in params.models.items():
        expected = {"confusion.png", "misclassified.png"}
        if model.target is not None:
            expected.add("precision_recall.png")
        folder = REPO / "plots/figures" / name
        assert folder.is_dir() and {p.name for p in folder.iterdir()} == expected, (
            f"{folder}: run `dvc repro` and commit plots/"
        )
