"""The figures stage: each model's first test mistakes, "actual -> predicted", as stable PNGs."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_png_stable, read_params_files, run_main, run_script, write_params_files
from test_datasets import FASHION

import figures
from mnist_pipeline.charts import png_bytes
from mnist_pipeline.labels import DIGITS
from mnist_pipeline.params import load_params
from mnist_pipeline.plumbing.files import save_arrays


def run_figures(
    root: Path, params: Path, out: Path, evaluations: Path | str = "stages/evaluate", run=run_main
) -> subprocess.CompletedProcess:
    """The stage in the slice run ``root``, as dvc.yaml runs it, writing into ``out``."""
    return run(
        "figures",
        *("--params", params, "--evaluations", evaluations),
        *("--images", "stages/decode/test.npz", "--out", out),
        cwd=root,
    )


@pytest.fixture(scope="module")
def drawn(slice_run, tmp_path_factory) -> Path:
    """The stage on the slice run's knn and sgd_5, 3 mistakes shown, in a fresh Python."""
    folder = tmp_path_factory.mktemp("drawn")
    params = read_params_files(slice_run)
    params["figures"]["misclassified"] = 3
    write_params_files(folder, params)
    result = run_figures(slice_run, folder / "params.yaml", folder / "figures", run=run_script)
    assert result.returncode == 0, result.stderr
    return folder


def test_a_gallery_shows_the_first_mistakes_in_test_order(slice_run, drawn):
    test = np.load(slice_run / "stages/decode/test.npz")
    predicted = np.load(slice_run / "stages/evaluate/knn/predictions.npz")["test_pred"]
    wrong = np.flatnonzero(predicted != test["labels"])
    first = wrong[:3]
    pairs = zip(test["labels"][first], predicted[first], strict=True)
    expected = figures.gallery(
        test["images"][first],
        [f"{actual} -> {guess}" for actual, guess in pairs],
        f"knn: 3 of {len(wrong)} misclassified test digits, in test order (actual -> predicted)",
        "digits",
    )
    dpi = load_params(drawn / "params.yaml").figures.dpi
    assert (drawn / "figures/knn/misclassified.png").read_bytes() == png_bytes(expected, dpi)


def test_a_second_run_draws_the_same_bytes(slice_run, drawn, tmp_path):
    again = run_figures(slice_run, drawn / "params.yaml", tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["knn", "sgd_5"]
    for png in (drawn / "figures").glob("*/misclassified.png"):
        assert (tmp_path / png.parent.name / png.name).read_bytes() == png.read_bytes(), png


def test_a_detectors_captions_name_its_negative_class():
    shown = figures.captions(np.array([3, 5]), np.array([1, 0]), ["not_5", "5"], DIGITS)
    assert shown == ["3 -> 5", "5 -> not 5"]


def test_long_class_names_make_the_captions_smaller():
    shown = figures.captions(np.array([0, 9]), np.array([6, 7]), FASHION, FASHION)
    assert shown == ["T-shirt/top -> Shirt", "Ankle boot -> Sneaker"]
    assert figures.caption_font(shown) < figures.caption_font(["5 -> not 5"]) == 7.5


@pytest.mark.parametrize("count", [13, 0], ids=["gallery", "empty"])
def test_a_gallery_png_ignores_rc_params_and_carries_no_date(count, mnist_slice):
    images, captions = mnist_slice["test_images"][:count], [f"{d} -> 0" for d in range(count)]
    assert_png_stable(lambda: figures.gallery(images, captions, "title", "digits"))


def test_predictions_of_another_split_are_refused_naming_the_file(slice_run, drawn, tmp_path):
    shutil.copytree(slice_run / "stages/evaluate", tmp_path / "evaluate")
    short = tmp_path / "evaluate/knn/predictions.npz"
    save_arrays(short, {"test_pred": np.zeros(10, np.uint8)})
    result = run_figures(slice_run, drawn / "params.yaml", tmp_path / "out", tmp_path / "evaluate")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"figures: error: {short} holds 10 predictions, but the test split has 300 labels: "
        "they should be the same split"
    )
    assert not (tmp_path / "out").exists()
