"""The convolutional network (estimator ``cnn``): deterministic, picks its epoch by val."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from mnist_pipeline import AVX2_PINS
from mnist_pipeline.estimators.cnn import ConvNetClassifier, shifted, turned
from mnist_pipeline.params import load_params

TINY = {"channels": (4, 8), "hidden": 16, "epochs": 2, "batch_size": 50, "threads": 1}
TINY |= {"rotate": 10, "scale": 0.1, "label_smoothing": 0.1}
"""A network small enough to train in a second on 300 images, every augmentation on."""


@pytest.fixture(scope="module")
def images(mnist_slice) -> dict[str, np.ndarray]:
    x, y = mnist_slice["train_images"], mnist_slice["train_labels"]
    return {"x": x[:300], "y": y[:300], "val_x": x[300:400], "val_y": y[300:400]}


@pytest.fixture(scope="module")
def fitted(images) -> ConvNetClassifier:
    epochs = []
    model = ConvNetClassifier(**TINY).fit(
        images["x"],
        images["y"],
        validation=(images["val_x"], images["val_y"]),
        log=lambda epoch, **metrics: epochs.append((epoch, metrics)),
    )
    model.logged = epochs
    return model


def test_two_fits_give_the_same_weights_bit_for_bit(images, fitted):
    again = ConvNetClassifier(**TINY).fit(
        images["x"], images["y"], validation=(images["val_x"], images["val_y"])
    )
    for name, array in fitted.weights_.items():
        assert array.tobytes() == again.weights_[name].tobytes(), name
    assert fitted.loss_curve_ == again.loss_curve_


def test_another_seed_gives_other_weights(images, fitted):
    other = ConvNetClassifier(**{**TINY, "seed": 1}).fit(images["x"], images["y"])
    assert other.weights_["0.weight"].tobytes() != fitted.weights_["0.weight"].tobytes()


def test_each_epoch_is_logged_with_its_loss_and_val_accuracy(fitted):
    pairs = zip(fitted.loss_curve_, fitted.val_accuracy_, strict=True)
    expected = [(e, {"loss": loss, "val_acc": acc}) for e, (loss, acc) in enumerate(pairs, start=1)]
    assert fitted.logged == expected


def test_val_chooses_the_epoch_whose_weights_are_kept(images, fitted):
    best = max(fitted.val_accuracy_)
    assert fitted.best_epoch_ == max(
        e for e, acc in enumerate(fitted.val_accuracy_, start=1) if acc == best
    )
    assert np.mean(fitted.predict(images["val_x"]) == images["val_y"]) == best


def test_without_validation_the_last_epoch_is_kept(images):
    model = ConvNetClassifier(**{**TINY, "epochs": 1}).fit(images["x"], images["y"])
    assert model.best_epoch_ == 1 and model.val_accuracy_ == []


def test_weights_are_numpy_arrays_and_the_pickle_holds_no_torch_object(fitted):
    assert all(type(array) is np.ndarray for array in fitted.weights_.values())
    data = pickle.dumps(fitted)
    assert b"torch" not in data
    restored = pickle.loads(data)
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(restored.predict_proba(x), fitted.predict_proba(x))


def test_probabilities_are_a_softmax_whose_largest_is_the_prediction(images, fitted):
    proba = fitted.predict_proba(images["val_x"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        fitted.classes_[proba.argmax(axis=1)], fitted.predict(images["val_x"])
    )


def test_images_of_another_shape_are_refused(fitted):
    with pytest.raises(ValueError, match=r"expected images of \(28, 28\), got \(27, 28\)"):
        fitted.predict(np.zeros((2, 27, 28), dtype=np.uint8))


def test_rows_instead_of_images_are_refused():
    with pytest.raises(ValueError, match="expected images of shape N x rows x columns"):
        ConvNetClassifier(**TINY).fit(np.zeros((10, 784)), np.arange(10) % 2)


def test_shift_moves_each_image_by_its_own_offset_filling_zeros():
    moved = shifted(np.arange(2 * 3 * 3).reshape(2, 3, 3), np.array([[1, 0], [0, -1]]))
    np.testing.assert_array_equal(moved[0], [[0, 0, 0], [0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(moved[1], [[10, 11, 0], [13, 14, 0], [16, 17, 0]])


def test_turn_by_a_quarter_is_rot90_and_by_nothing_changes_nothing():
    images = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    moved = turned(images, np.array([90.0, 0.0]), np.array([1.0, 1.0])).numpy()
    np.testing.assert_array_equal(moved[0, 0], np.rot90(images[0, 0].numpy()))
    np.testing.assert_array_equal(moved[1], images[1].numpy())


def test_shipped_cnn_names_every_choice_in_params():
    model = load_params(REPO / "params.yaml").model("cnn")
    assert model.features == "images"
    assert set(model.params) == set(ConvNetClassifier().get_params())


def test_importing_the_package_pins_every_library_to_its_avx2_kernels():
    with open("/proc/cpuinfo") as cpuinfo:
        flags = set(next(line for line in cpuinfo if line.startswith("flags")).split())
    if os.uname().machine != "x86_64" or not {"avx2", "fma"} <= flags:
        pytest.skip("the pins apply to x86-64 CPUs with AVX2 and FMA")
    code = (
        "import os, mnist_pipeline; "
        "print(sorted((k, os.environ[k]) for k in mnist_pipeline.AVX2_PINS)); "
        "import torch; torch.zeros(1) + 1; print(torch.backends.cpu.get_cpu_capability())"
    )
    clean = {k: v for k, v in os.environ.items() if k not in AVX2_PINS}
    result = subprocess.run(
        [sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [str(sorted(AVX2_PINS.items())), "AVX2"]
