"""Dataset descriptions: the switch, class names and references follow the dataset."""

import pytest
from conftest import REPO, deep_update, write_params_files

from mnist_pipeline.labels import class_names
from mnist_pipeline.params import ParamsError, load_params

FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat")
FASHION += ("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def refusal(path) -> str:
    with pytest.raises(ParamsError) as err:
        load_params(path)
    return str(err.value)


def test_mnist_is_the_default_with_the_notebooks_numbers_and_fashion_mnist_is_described():
    params = load_params(REPO / "params.yaml")
    mnist, fashion = params.dataset, params.datasets["fashion_mnist"]

    assert (mnist.name, mnist.classes) == ("mnist", tuple(str(d) for d in range(10)))
    assert mnist.references.test == {"nearest": 0.9708, "nearest_pca": 0.9703, "mlp": 0.972}
    assert mnist.references.cv == {"sgd_5": 0.96, "never_5": 0.91}
    assert (fashion.classes, fashion.image_shape, fashion.transpose) == (FASHION, (28, 28), False)
    assert fashion.mirrors[0] == "/usr/share/datasets/fashion-mnist"


def test_the_switch_selects_the_description_and_its_class_names(write_params):
    params = load_params(write_params({"dataset": "fashion_mnist"}))

    assert params.dataset.references.test["knn"] == 0.852
    target = params.model("sgd_5").target
    assert class_names(target, params.dataset.classes) == ["not_Sandal", "Sandal"]


def test_a_switch_naming_no_description_is_refused(write_params):
    path = write_params({"dataset": "kmnist"})

    assert refusal(path) == (
        f"{path}: dataset: expected the name of a description in datasets.yaml "
        "(mnist, fashion_mnist), got 'kmnist'"
    )


def test_a_detector_target_outside_the_datasets_classes_is_refused(write_params):
    path = write_params({"datasets": {"mnist": {"classes": ["a", "b", "c"]}}})

    assert refusal(path) == (
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

    assert refusal(path).startswith(f"{path.with_name('datasets.yaml')}: {message}")


def test_another_descriptions_references_may_name_models_no_longer_in_params(tmp_path, repo_params):
    params = deep_update(repo_params, {})
    params["datasets"]["mnist"]["references"].update(test={}, cv={})
    params["models"] = {"knn": repo_params["models"]["knn"]}

    loaded = load_params(write_params_files(tmp_path, params))

    assert list(loaded.models) == ["knn"]
    assert loaded.datasets["fashion_mnist"].references.test["svm"] == 0.897
