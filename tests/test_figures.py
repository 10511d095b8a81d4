"""Each model's gallery of mistakes (mnist_pipeline/stages/figures.py, the figures stage): the
mistakes shown and their captions, PNG bytes that do not change, and the stage run as DVC runs
it on a small slice of MNIST."""

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
from mnist_pipeline.scoring import precision_recall
from mnist_pipeline.stages.figures import (
    FiguresError,
    captions,
    gallery_figure,
    misclassified,
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


# --- PNG bytes ------------------------------------------------------------------------------


def _figures(mnist_slice: dict[str, np.ndarray]) -> dict:
    images = mnist_slice["test_images"][:13]
    return {
        "gallery": lambda: gallery_figure(images, [f"{d} -> 0" for d in range(13)], "title"),
        "empty gallery": lambda: gallery_figure(images[:0], [], "title"),
    }


@pytest.mark.parametrize("name", ["gallery", "empty gallery"])
def test_png_is_the_same_bytes_every_time_whatever_the_rc_params(name, mnist_slice):
    assert_png_stable(_figures(mnist_slice)[name])


def test_png_size_is_fixed_by_inches_and_dpi(mnist_slice):
    gallery = _figures(mnist_slice)["gallery"]
    assert png_size(png_bytes(gallery(), 100)) == (780, 249)
    assert png_size(png_bytes(gallery(), 50)) == (390, 124)


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


def test_figures_stage_draws_one_gallery_per_model_and_no_chart(evaluated, drawn):
    assert drawn.returncode == 0, drawn.stderr
    out = evaluated / "plots/figures"
    assert {p.name: sorted(q.name for q in p.iterdir()) for p in out.iterdir()} == {
        "knn": ["misclassified.png"],
        "sgd_5": ["misclassified.png"],
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
    for name in params.models:
        folder = REPO / "plots/figures" / name
        assert folder.is_dir() and {p.name for p in folder.iterdir()} == {"misclassified.png"}, (
            f"{folder}: run `dvc repro` and commit plots/"
        )
