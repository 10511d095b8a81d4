"""Labels: what a model learns, the names of its classes, and the check of the data's labels
against the classes params.yaml declares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import (
    SLICE_STEPS,
    read_params_files,
    redirected,
    run_script,
    tree_state,
    write_params_files,
)

from mnist_pipeline.labels import DIGITS, ClassesError, check_classes, class_names, task_labels


def test_detector_labels_are_one_for_the_target_digit():
    digits = np.array([5, 3, 5, 0], dtype=np.uint8)
    np.testing.assert_array_equal(task_labels(digits, 5), [1, 0, 1, 0])
    np.testing.assert_array_equal(task_labels(digits, None), digits)
    assert class_names(5) == ["not_5", "5"]
    assert class_names(None) == [str(d) for d in range(10)]


def test_labels_over_exactly_the_declared_classes_pass():
    check_classes({"a.npz": np.array([0, 9, 3]), "b.npz": np.array([], np.uint8)}, DIGITS, "d")


def test_declared_classes_past_the_last_label_are_refused_naming_the_key():
    with pytest.raises(ClassesError) as refused:
        check_classes({"a.npz": np.arange(10)}, [*DIGITS, "x"], "datasets.mnist")
    assert str(refused.value) == "datasets.mnist.classes: labels run 0-9 (10 classes), 11 declared"


def test_a_label_past_the_declared_classes_is_refused_naming_the_key_and_where_it_is():
    labels = {"train.npz": np.array([0, 1, 2]), "test.npz": np.array([1, 0, 4, 3, 5], np.uint8)}
    with pytest.raises(ClassesError) as refused:
        check_classes(labels, DIGITS[:3], "datasets.toy")
    assert str(refused.value) == (
        "datasets.toy.classes: labels run 0-5 (6 classes), 3 declared "
        "(label 4 at index 2 of test.npz)"
    )


# Labels against the declared classes: every stage that reads labels refuses a mismatch with
# one line naming the key, run in a fresh Python (bounded by STAGE_TIMEOUT) in the shared
# slice run, writing (it must not) into the test's own folder.

STAGE_TIMEOUT = 120
ELEVEN = [*DIGITS, "x"]
FIVE = list(DIGITS[:5])


def stage_lines(out: Path) -> dict[str, tuple[str, ...]]:
    """Each stage's command line after --params, in the slice run, its outputs under ``out``."""
    evaluate_args = redirected(
        SLICE_STEPS["evaluate@knn"], metrics_dir=out / "metrics", out=out / "evaluate"
    )
    return {
        "normalize": redirected(SLICE_STEPS["normalize"], out=out / "norm", labels=out / "l.csv"),
        "train": redirected(
            SLICE_STEPS["train@knn"], out=out / "knn", history=out / "h.csv", live=out / "live"
        ),
        "evaluate": evaluate_args,
        "figures": (
            "figures",
            "--evaluations",
            "stages/evaluate",
            "--images",
            "stages/decode/test.npz",
            "--out",
            out / "figures",
        ),
        "overlays": (
            "overlays",
            "--evaluations",
            "stages/evaluate",
            "--test",
            "stages/decode/test.npz",
            "--out",
            out / "overlays",
        ),
        "summary": (
            "summary",
            "--images",
            "stages/decode/train.npz",
            "--evaluations",
            "stages/evaluate",
            "--test",
            "stages/decode/test.npz",
            "--out",
            out / "summary",
        ),
    }


FIRST_LABELS = {
    "normalize": "stages/decode/train.npz",
    "train": "stages/pca/train.npz",
    "evaluate": "stages/pca/val.npz",
    "figures": "stages/decode/test.npz",
    "overlays": "stages/decode/test.npz",
    "summary": "stages/decode/train.npz",
}
"""The first file of labels each stage checks."""


def first_past(root: Path, path: str, declared: int) -> str:
    """How the error points at the first label past ``declared`` classes in ``path``."""
    arrays = np.load(root / path)
    labels = arrays["y" if "y" in arrays.files else "labels"]
    index = int(np.argmax(labels >= declared))
    return f" (label {labels[index]} at index {index} of {path})"


@pytest.mark.parametrize(
    ("stage", "classes"),
    [
        *((stage, ELEVEN) for stage in FIRST_LABELS),
        ("train", FIVE),
        ("evaluate", FIVE),
    ],
    ids=[*(f"{stage}-11" for stage in FIRST_LABELS), "train-5", "evaluate-5"],
)
def test_a_stage_refuses_labels_that_do_not_run_over_the_declared_classes(
    slice_run: Path, tmp_path: Path, stage: str, classes: list[str]
):
    params = read_params_files(slice_run)
    params["datasets"]["mnist"]["classes"] = classes
    params["models"]["sgd_5"]["target"] = 4  # a detector of a declared class
    write_params_files(tmp_path, params)
    script, *args = stage_lines(tmp_path / "out")[stage]
    before = tree_state(slice_run, tmp_path)

    result = run_script(
        script, "--params", tmp_path / "params.yaml", *args, cwd=slice_run, timeout=STAGE_TIMEOUT
    )

    where = "" if len(classes) > 10 else first_past(slice_run, FIRST_LABELS[stage], len(classes))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"{stage}: error: datasets.mnist.classes: labels run 0-9 (10 classes), "
        f"{len(classes)} declared{where}"
    )
    assert "Traceback" not in result.stderr
    assert tree_state(slice_run, tmp_path) == before
