"""The feature rows normalize writes: each scaling method, and deskewing only when asked;
the normalize stage on a slice of MNIST: its validation split, its label counts, the params
section it follows, and validation splits it refuses."""

from __future__ import annotations

import numpy as np
from conftest import SLICE_PARAMS, SLICE_STEPS, params_copy, redirected, run_main, run_script

from mnist_pipeline.deskew import deskew
from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.stages.normalize import SPLITS, normalize

IMAGES = np.array([[[0, 255], [51, 102]], [[255, 255], [0, 0]]], dtype=np.uint8)


def test_scale_divides_by_255():
    (rows,) = normalize("scale", IMAGES[:1])
    np.testing.assert_allclose(rows, [[0, 1, 0.2, 0.4]])
    assert rows.dtype == np.float32


def test_offset_maps_into_001_to_1():
    (rows,) = normalize("offset", IMAGES[:1])
    np.testing.assert_allclose(rows, [[0.01, 1.0, 0.208, 0.406]], rtol=1e-6)


def test_l2_gives_unit_rows():
    rows = normalize("l2", IMAGES)
    np.testing.assert_allclose(np.linalg.norm(rows[0], axis=1), [1, 1], rtol=1e-6)


def test_standardize_uses_training_statistics_only():
    train, test = normalize("standardize", IMAGES, IMAGES[:1] // 2)
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(train[:, 1], 0)  # a constant pixel stays 0, not NaN
    np.testing.assert_allclose(test[0, 0], (0 - 0.5) / 0.5)


def test_normalize_deskews_only_when_asked(mnist_slice):
    images = mnist_slice["train_images"][:20]
    (plain,) = normalize("scale", images)
    (straightened,) = normalize("scale", images, deskewed=True)
    np.testing.assert_array_equal(plain, images.reshape(20, -1) / np.float32(255))
    np.testing.assert_allclose(straightened, deskew(images).reshape(20, -1) / 255, atol=1e-6)
    assert not np.array_equal(plain, straightened)


# --- the stage, on the MNIST slice (conftest's slice_run) -----------------------------------


def test_normalize_holds_out_the_last_training_images_as_validation(slice_run, mnist_slice):
    val = load_arrays(slice_run / "stages/normalize/val.npz", ("X", "y"))
    np.testing.assert_array_equal(val["y"], mnist_slice["train_labels"][-200:])
    assert val["X"].dtype == np.float32 and val["X"].shape == (200, 784)


def test_label_distribution_counts_every_digit_per_split(slice_run, mnist_slice):
    lines = (slice_run / "metrics/label_distribution.csv").read_text().splitlines()
    assert lines[0] == "class,train,val,test"
    assert len(lines) == 1 + 10
    counts = [
        np.sum(mnist_slice["train_labels"][:1000] == 5),
        np.sum(mnist_slice["train_labels"][1000:] == 5),
        np.sum(mnist_slice["test_labels"] == 5),
    ]
    assert lines[1 + 5] == "5," + ",".join(map(str, counts))


def test_normalize_runs_as_dvc_runs_it(slice_run, tmp_path):
    """The script in a fresh Python, as dvc.yaml's command: the files of the in-process run."""
    out, labels = tmp_path / "normalize", tmp_path / "labels.csv"
    script, *args = redirected(SLICE_STEPS["normalize"], out=out, labels=labels)
    result = run_script(script, "--params", params_copy(slice_run, tmp_path), *args, cwd=slice_run)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].startswith("normalize: done in ")
    for split in ("train", "val", "test"):
        written = load_arrays(out / f"{split}.npz", ("X", "y"))
        expected = load_arrays(slice_run / f"stages/normalize/{split}.npz", ("X", "y"))
        np.testing.assert_array_equal(written["X"], expected["X"])
        np.testing.assert_array_equal(written["y"], expected["y"])
    assert labels.read_text() == (slice_run / "metrics/label_distribution.csv").read_text()


def test_normalize_script_has_help():
    result = run_main("normalize", "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage:")


def test_normalize_follows_the_section_named_on_its_command_line(slice_run, write_params):
    params = write_params({**SLICE_PARAMS, "normalize_deskewed": {"method": "l2", "deskew": True}})
    out = params.parent / "normalize_deskewed"
    result = run_main(
        "normalize",
        "--params",
        params,
        "--section",
        "normalize_deskewed",
        "--in",
        "stages/decode",
        "--out",
        out,
        cwd=slice_run,
    )
    assert result.returncode == 0, result.stderr
    plain = load_arrays(slice_run / "stages/normalize/test.npz", ("X", "y"))
    images = load_arrays(slice_run / "stages/decode/test.npz", ("images",))["images"]
    (straightened,) = normalize("l2", images, deskewed=True)
    written = load_arrays(out / "test.npz", ("X", "y"))
    np.testing.assert_array_equal(written["X"], straightened)
    np.testing.assert_array_equal(written["y"], plain["y"])
    assert not np.allclose(written["X"], plain["X"] / np.linalg.norm(plain["X"], axis=1)[:, None])


def run_normalize(slice_run, params, out, labels):
    """The normalize script on the slice's decoded images, in this process."""
    return run_main(
        "normalize",
        "--params",
        params,
        "--in",
        "stages/decode",
        "--out",
        out,
        "--labels",
        labels,
        cwd=slice_run,
    )


def normalize_fails_with(slice_run, params) -> str:
    """Run normalize on bad params: exit 1, neither features nor label counts written; its
    stderr."""
    out, labels = params.parent / "norm_bad", params.parent / "labels_bad.csv"
    result = run_normalize(slice_run, params, out, labels)
    assert result.returncode == 1
    assert not out.exists()
    assert not labels.exists()
    return result.stderr


def test_validation_as_large_as_the_training_set_is_refused(slice_run, write_params):
    params = write_params({"split": {"validation": 1200}})
    assert normalize_fails_with(slice_run, params) == (
        "normalize: error: split.validation: expected fewer than the 1200 training images, "
        "got 1200\n"
    )


def test_validation_leaving_one_digit_is_refused_before_any_model_is_fitted(
    slice_run, write_params
):
    params = write_params({"split": {"validation": 1199}})
    assert normalize_fails_with(slice_run, params) == (
        "normalize: error: split.validation: expected to leave training "
        "images of at least 2 digits, got 1199 (the 1 left are all 5s)\n"
    )


def test_split_train_keeps_the_first_n_training_images_and_every_val_and_test_image(
    slice_run, write_params, mnist_slice
):
    """split.train: 300 of the slice's 1,000 training images, in file order, not stratified;
    the label counts say how many of each digit that leaves."""
    params = write_params({**SLICE_PARAMS, "split": {"validation": 200, "train": 300}})
    out, labels = params.parent / "first300", params.parent / "labels.csv"
    result = run_normalize(slice_run, params, out, labels)
    assert result.returncode == 0, result.stderr
    everything = {
        s: load_arrays(slice_run / f"stages/normalize/{s}.npz", ("X", "y")) for s in SPLITS
    }
    written = {s: load_arrays(out / f"{s}.npz", ("X", "y")) for s in SPLITS}
    np.testing.assert_array_equal(written["train"]["X"], everything["train"]["X"][:300])
    np.testing.assert_array_equal(written["train"]["y"], mnist_slice["train_labels"][:300])
    for split in ("val", "test"):
        np.testing.assert_array_equal(written[split]["X"], everything[split]["X"])
    fives = np.sum(mnist_slice["train_labels"][:300] == 5)
    assert labels.read_text().splitlines()[1 + 5].startswith(f"5,{fives},")


def test_split_train_all_is_the_whole_training_split(slice_run, write_params):
    params = write_params({**SLICE_PARAMS, "split": {"validation": 200, "train": "all"}})
    out = params.parent / "all"
    result = run_normalize(slice_run, params, out, params.parent / "labels.csv")
    assert result.returncode == 0, result.stderr
    written = load_arrays(out / "train.npz", ("X",))["X"]
    np.testing.assert_array_equal(
        written, load_arrays(slice_run / "stages/normalize/train.npz", ("X",))["X"]
    )


def test_split_train_beyond_the_training_split_is_refused(slice_run, write_params):
    params = write_params({"split": {"validation": 200, "train": 1001}})
    assert normalize_fails_with(slice_run, params) == (
        "normalize: error: split.train: expected all or at most the 1000 training images left "
        "by split.validation, got 1001\n"
    )


def test_split_train_of_one_class_is_refused(slice_run, write_params):
    params = write_params({"split": {"validation": 200, "train": 1}})
    assert normalize_fails_with(slice_run, params) == (
        "normalize: error: split.train: expected the first images to hold at least 2 classes, "
        "got 1 (all 5s)\n"
    )
