"""Dataset descriptions: the switch, class names, shapes and references follow the dataset."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, write_dataset, write_params_files

from mnist_pipeline.labels import ClassesError, class_names, plural, task_labels
from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.stages.decode import decode
from mnist_pipeline.stages.normalize import label_distribution

FASHION = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def params_with(tmp_path: Path, repo_params: dict, models: dict, **mnist: object) -> Path:
    """The repository's params.yaml with ``models`` replaced, and its datasets.yaml with the
    MNIST description's keys ``mnist`` replaced, written into ``tmp_path``."""
    params = copy.deepcopy(repo_params)
    params["models"] = models
    params["datasets"]["mnist"].update(mnist)
    return write_params_files(tmp_path, params)


NO_REFERENCES = {"source": "nobody's", "test": {}, "cv": {}}


def test_mnist_is_the_default_and_fashion_mnist_is_described():
    params = load_params(REPO / "params.yaml")
    assert params.dataset.name == "mnist"
    assert params.dataset.classes == tuple(str(d) for d in range(10))
    assert list(params.datasets) == ["mnist", "fashion_mnist"]
    fashion = params.datasets["fashion_mnist"]
    assert fashion.classes == FASHION
    assert fashion.mirrors[0] == "/usr/share/datasets/fashion-mnist"
    assert (fashion.image_shape, fashion.transpose) == ((28, 28), False)
    assert fashion.licence.startswith("MIT")


def test_the_notebooks_numbers_are_the_mnist_descriptions_references():
    params = load_params(REPO / "params.yaml")
    mnist = params.dataset.references
    assert mnist.test == {"nearest": 0.9708, "nearest_pca": 0.9703, "mlp": 0.972}
    assert mnist.cv == {"sgd_5": 0.96, "never_5": 0.91}
    fashion = params.datasets["fashion_mnist"].references
    assert fashion.test["svm"] == 0.897 and fashion.cv == {}


def test_the_switch_selects_the_description(write_params):
    params = load_params(write_params({"dataset": "fashion_mnist"}))
    assert params.dataset.name == "fashion_mnist"
    assert params.dataset.references.test["knn"] == 0.852
    assert class_names(params.model("sgd_5").target, params.dataset.classes) == [
        "not_Sandal",
        "Sandal",
    ]
    assert params.dataset.classes[params.model("logreg_4").target] == "Coat"


def test_a_switch_naming_no_description_is_refused(write_params):
    path = write_params({"dataset": "kmnist"})
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value) == (
        f"{path}: dataset: expected the name of a description in datasets.yaml "
        "(mnist, fashion_mnist), got 'kmnist'"
    )


def test_a_detector_target_outside_the_datasets_classes_is_refused(write_params):
    path = write_params({"datasets": {"mnist": {"classes": ["a", "b", "c"]}}})
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value) == (
        f"{path}: models.sgd_5.target: expected a class index 0-2 of datasets.mnist.classes "
        "(or no target for a model of every class), got 5"
    )


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (["a", "b,c"], "datasets.mnist.classes[1]: expected a non-empty name without commas"),
        (["a", "a", "b"], "datasets.mnist.classes: expected distinct names, got 'a' twice"),
        (["only"], "datasets.mnist.classes: expected a list of 2 to 256 class names"),
    ],
)
def test_class_names_that_would_break_a_csv_are_refused(write_params, classes, message):
    path = write_params({"datasets": {"mnist": {"classes": classes}}})
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value).startswith(f"{path.with_name('datasets.yaml')}: {message}")


def test_another_descriptions_references_may_name_models_no_longer_in_params(tmp_path, repo_params):
    knn = {"knn": repo_params["models"]["knn"]}
    params = load_params(params_with(tmp_path, repo_params, knn, references=NO_REFERENCES))
    assert list(params.models) == ["knn"]
    assert params.datasets["fashion_mnist"].references.test["svm"] == 0.897


def test_detector_labels_and_names_follow_the_datasets_classes():
    labels = np.array([5, 3, 5, 0], dtype=np.uint8)
    np.testing.assert_array_equal(task_labels(labels, 5), [1, 0, 1, 0])
    assert class_names(None, FASHION) == list(FASHION)
    assert class_names(8, FASHION) == ["not_Bag", "Bag"]


def test_plural_of_title_nouns():
    assert [plural(n) for n in ("digit", "class", "image")] == ["digits", "classes", "images"]


def test_label_distribution_names_each_class():
    labels = {"train": np.array([0, 1, 1, 2]), "test": np.array([2, 2])}
    assert label_distribution(labels, ["cat", "dog", "owl"]) == (
        "class,train,test\ncat,1,0\ndog,2,0\nowl,1,2\n"
    )


def synthetic_arrays(shape: tuple[int, int], n_classes: int) -> dict[str, np.ndarray]:
    """Images whose pixel (0, c) is 255 for class c, so a transposition shows."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", 40), ("test", 10)):
        labels = rng.integers(0, n_classes, count).astype(np.uint8)
        images = np.zeros((count, *shape), dtype=np.uint8)
        images[np.arange(count), 0, labels] = 255
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    return arrays


def test_decode_turns_transposed_images_upright(tmp_path: Path, repo_params):
    arrays = synthetic_arrays((6, 8), 5)
    files = write_dataset(tmp_path / "download", arrays)
    path = params_with(
        tmp_path,
        repo_params,
        {"knn": repo_params["models"]["knn"]},
        files=files,
        image_shape=[6, 8],
        transpose=True,
        classes=["a", "b", "c", "d", "e"],
        references=NO_REFERENCES,
    )
    params = load_params(path)
    decode(tmp_path / "download", tmp_path / "decode", params.dataset)
    train = load_arrays(tmp_path / "decode/train.npz", ("images", "labels"))
    assert train["images"].shape == (40, 8, 6)
    np.testing.assert_array_equal(train["images"], arrays["train_images"].transpose(0, 2, 1))


def test_decode_refuses_a_label_beyond_the_datasets_classes(tmp_path: Path, repo_params):
    arrays = synthetic_arrays((6, 8), 5)
    files = write_dataset(tmp_path / "download", arrays)
    knn = {"knn": repo_params["models"]["knn"]}
    path = params_with(
        tmp_path,
        repo_params,
        knn,
        files=files,
        image_shape=[6, 8],
        classes=["a", "b", "c"],
        references=NO_REFERENCES,
    )
    params = load_params(path)
    labels = tmp_path / "download" / files["train_labels"]["name"]
    first = int(np.argmax(arrays["train_labels"] >= 3))
    with pytest.raises(ClassesError) as refused:
        decode(tmp_path / "download", tmp_path / "decode", params.dataset)
    assert str(refused.value) == (
        "datasets.mnist.classes: labels run 0-4 (5 classes), 3 declared "
        f"(label {arrays['train_labels'][first]} at index {first} of {labels})"
    )
